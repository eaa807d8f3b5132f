"""Tests of rnnlab.nn."""
