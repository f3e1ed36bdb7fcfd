package gitlab

// ImplementedFeatures is what this runner advertises in jobs/request: only
// what it implements, so GitLab refuses (runner_unsupported) jobs that need
// anything else instead of letting them run wrongly. Not advertised: raw
// artifact uploads, sessions/terminal, vault secrets, service variables.
func ImplementedFeatures() FeaturesInfo {
	return FeaturesInfo{
		Variables: true, Image: true, Services: true, Artifacts: true, Cache: true,
		FallbackCacheKeys: true, UploadMultipleArtifacts: true, Refspecs: true, Masking: true,
		RawVariables: true, ArtifactsExclude: true, MultiBuildSteps: true, TraceReset: true,
		TraceChecksum: true, TraceSize: true, Cancelable: true, ReturnExitCode: true,
		CancelGracefully: true, TwoPhaseJobCommit: true,
	}
}
