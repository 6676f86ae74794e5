"""Tuning a host for a run, and putting it back: the knobs of a tuning profile (sysctls,
CPU frequency, C-states, transparent hugepages, NIC IRQs and queues, ethtool settings, the
CPUs the server and redis-benchmark run on), each kind a small unit that reads, writes and
compares its own files or commands.

A run saves the original value of every knob it may touch before the first change
(``state.save``), applies one profile at a time (``state.apply``: a knob saved but not in the
profile goes back to its saved value, so nothing of the previous profile stays), and
restores and verifies everything at the end (``state.restore``). ``snapshot`` records what a
host looked like under a profile; ``profiles`` holds the built-in profiles and turns a
profile into the knobs of one host.

Every unit works under a root directory (``/`` on a host, a copy of a captured tree in the
tests) and runs commands (systemctl, systemd-run, ethtool) through the host's runner, so
tests see each argv. Standard library only, Python 3.9 or newer, like the rest of the agent.
"""
