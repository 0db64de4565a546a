"""The project's own tests: the mutant set and the seed sweep (see README)."""
