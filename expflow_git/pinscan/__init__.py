"""The PIN / PIN-hash scanner: what a leaked PIN looks like in a file, and its rules."""
