// BerthCLI module.
