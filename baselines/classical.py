"""Classical detectors from tsb-ad."""
