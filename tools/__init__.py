"""Developer tools (not deployed to the hosts: servers/ is what the hosts get)."""
