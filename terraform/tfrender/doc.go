// Package tfrender evaluates a Terraform module's locals and renders its templatefile
// templates in Go, the way `terraform plan` would, so tests can check what the aws-fleet
// module really writes onto an instance without Terraform or an AWS provider: the variables
// take the caller's values or their defaults (converted to their declared types, optional
// attributes included), resource and data source attributes come from the caller, and the
// locals are evaluated with Terraform's functions. It is test support: only tests import it.
package tfrender
