"""The operator CLI `qunzu` (keygen, check-config, export, verify-export, filing, audit verify)."""
