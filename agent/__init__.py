"""wirebench's agent on the benchmark hosts: what the run does on a server host (start and
stop a unit, with its counters) and on a load host (prepare a server, measure it).

Installed on every host by provisioning (with its bytecode compiled) and called over the
connection Ansible already holds, one command per step, each printing one JSON reply. An
Ansible module would ship and unpack itself and import ansible's module_utils on every call:
about 0.3 s of a host's CPU each time, three times a cell. The agent starts in a few
milliseconds and nothing of it runs between calls.

Standard library only; Python 3.9 or newer (the hosts' system Python).
"""
