//! Integration tests: run the real evmon binary on testdata/.
