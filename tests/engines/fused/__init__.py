"""Tests of rnnlab.engines.fused."""
