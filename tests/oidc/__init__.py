"""The test OpenID provider (provider.mjs, oidc-provider from npm), its fixture."""
