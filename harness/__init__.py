"""visanom: evaluation harness for time-series anomaly detection with reasoning."""

__version__ = "0.1.0"
