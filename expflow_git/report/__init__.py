"""The signed, hash-chained audit report: canonical JSON, Merkle tree, DSSE envelope, Ed25519."""
