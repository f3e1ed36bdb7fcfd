package main

import (
	_ "github.com/docker/docker/client"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/hashicorp/go-retryablehttp"
	_ "github.com/BurntSushi/toml"
	_ "github.com/spf13/cobra"
	_ "gopkg.in/yaml.v3"
)
func main() {}
