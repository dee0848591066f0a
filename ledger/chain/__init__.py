"""Chain access: the embedded anvil node and web3 connections."""
