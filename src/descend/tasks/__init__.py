"""What is minimised: analytic surfaces, regressions, networks on datasets."""
