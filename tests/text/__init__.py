"""Tests of rnnlab.text."""
