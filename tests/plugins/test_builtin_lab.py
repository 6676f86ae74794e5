"""`ansible-playbook bench.yml -i inventory/lab` brings the built-in lab up itself, and no other
inventory does: bench.yml's lab play (playbooks/builtin-lab.yml) runs lab-up only when the
inventory marks itself as the lab (wirebench_builtin_lab in group_vars/all.yml, which the
controller's implicit localhost reads), then reads the inventory again so that the plays
after it see the hosts lab-up wrote. Checked without the lab: the play runs here against a
stand-in local_lab role in a copy of the tree, where the real role cannot be reached."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXAMPLES = sorted(path.name for path in (ROOT / "inventory/examples").iterdir() if path.is_dir())

needs_ansible = pytest.mark.skipif(
    not (BIN / "ansible-playbook").exists(), reason="ansible-playbook is not installed"
)


def ansible_env(tmp_path, config=ROOT / "ansible.cfg"):
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def run(argv, tmp_path, cwd=ROOT, **kwargs):
    done = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        cwd=cwd,
        env=ansible_env(tmp_path, **kwargs),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


# -- the files -------------------------------------------------------------------------------


def test_bench_yml_checks_the_input_then_brings_the_lab_up_before_preflight():
    plays = yaml.safe_load((ROOT / "bench.yml").read_text())
    assert [play["ansible.builtin.import_playbook"] for play in plays] == [
        "playbooks/boilerplate.yml",
        "playbooks/builtin-lab.yml",
        "playbooks/preflight.yml",
        "playbooks/provision.yml",
        "playbooks/run.yml",
        "playbooks/collect.yml",
    ]


def test_the_lab_play_runs_lab_up_only_for_an_inventory_marked_as_the_lab():
    (play,) = yaml.safe_load((ROOT / "playbooks/builtin-lab.yml").read_text())
    assert play["hosts"] == "localhost" and play["connection"] == "local"
    first, lab_up, refresh, *_ = play["tasks"]
    assert first["ansible.builtin.meta"] == "end_play"
    assert first["when"] == "not (wirebench_builtin_lab | default(false) | bool)"
    assert lab_up["ansible.builtin.include_role"] == {"name": "local_lab"}
    assert lab_up["vars"] == {"local_lab_state": "present"}  # as playbooks/lab-up.yml
    assert refresh["ansible.builtin.meta"] == "refresh_inventory"


def test_only_the_lab_inventory_is_marked_as_the_lab():
    lab = yaml.safe_load((ROOT / "inventory/lab/group_vars/all.yml").read_text())
    assert lab["wirebench_builtin_lab"] is True
    assert EXAMPLES == ["bare-metal", "cloud-pairs"]
    others = [path for path in (ROOT / "inventory").rglob("*") if path.is_file()]
    others = [path for path in others if ROOT / "inventory/lab" not in path.parents]
    assert others
    for path in others:
        assert "wirebench_builtin_lab" not in path.read_text(), path


def test_the_lab_inventory_describes_the_lab_role_s_default_hosts():
    """The role writes its extra hosts next to the committed ones, in a gitignored file."""
    defaults = yaml.safe_load((ROOT / "roles/local_lab/defaults/main.yml").read_text())
    assert defaults["local_lab_inventory_dir"] == "{{ playbook_dir | dirname }}/inventory/lab"
    assert (ROOT / "playbooks/lab-up.yml").exists()
    assert "/generated-*.yml" in (ROOT / "inventory/lab/.gitignore").read_text().splitlines()
    assert not (ROOT / "inventory/local").exists()


# -- what Ansible makes of them (nothing here reaches a host) -----------------------------------


@needs_ansible
def test_ansible_inventory_lists_the_lab_hosts_and_the_mark(tmp_path):
    code, output = run(["ansible-inventory", "-i", "inventory/lab", "--list"], tmp_path)
    assert code == 0, output
    listed = json.JSONDecoder().raw_decode(output[output.index("{") :])[0]
    assert {"server1"} <= set(listed["bench_server"]["hosts"])
    assert {"load1"} <= set(listed["bench_load"]["hosts"])
    for host in ("server1", "load1"):
        hostvars = listed["_meta"]["hostvars"][host]
        assert hostvars["wirebench_builtin_lab"] is True
        assert hostvars["wheelhouse_mode"] == "wheelhouse"
        assert hostvars["ansible_user"] == "root"  # group_vars/lab.yml


def implicit_localhost_sees(inventory, tmp_path):
    """wirebench_builtin_lab as the controller's implicit localhost sees it with this inventory
    (ansible.builtin.debug runs on the controller: no host is contacted)."""
    code, output = run(
        ["ansible", "-i", inventory, "localhost", "-m", "ansible.builtin.debug",
         "-a", "msg={{ wirebench_builtin_lab | default('unset') }}"],
        tmp_path,
    )  # fmt: skip
    assert code == 0, output
    assert "WARNING" not in output, output
    return json.JSONDecoder().raw_decode(output[output.index("{") :])[0]["msg"]


@needs_ansible
def test_the_implicit_localhost_reads_the_lab_s_mark(tmp_path):
    """group_vars/all of the inventory reach the implicit localhost (it is in no group, but
    gets the 'all' group's vars): the signal the lab play relies on."""
    assert implicit_localhost_sees("inventory/lab", tmp_path) is True


@needs_ansible
@pytest.mark.parametrize("example", EXAMPLES)
def test_the_implicit_localhost_finds_no_mark_in_the_examples(example, tmp_path):
    assert implicit_localhost_sees(f"inventory/examples/{example}", tmp_path) == "unset"


# -- the lab play, run against a stand-in lab-up ---------------------------------------------

STAND_IN = """\
---
# Stands in for the real local_lab role: records what it was asked, and writes an extra load
# host into the lab's inventory as lab-up does with -e local_lab_load_hosts=2.
- name: Record the state asked for
  ansible.builtin.copy:
    dest: "{{ playbook_dir | dirname }}/lab-up-ran"
    content: "{{ local_lab_state }}\\n"
    mode: "0644"
- name: Describe load2 in the lab's inventory
  ansible.builtin.copy:
    dest: "{{ playbook_dir | dirname }}/inventory/lab/generated-load-hosts.yml"
    content: "bench_load:\\n  hosts:\\n    load2:\\n      ansible_host: 198.18.0.12\\n"
    mode: "0644"
"""

AFTER = """\
---
- name: The lab play, as bench.yml imports it
  ansible.builtin.import_playbook: playbooks/builtin-lab.yml
- name: A later play on the load hosts
  hosts: bench_load
  gather_facts: false
  tasks:
    - name: Name the host (debug runs on the controller)
      ansible.builtin.debug:
        msg: "later play on {{ inventory_hostname }}"
"""


@pytest.fixture
def tree(tmp_path):
    """A copy of the tree with the lab play, the inventories and a stand-in local_lab."""
    tree = tmp_path / "tree"
    (tree / "playbooks").mkdir(parents=True)
    shutil.copy(ROOT / "ansible.cfg", tree / "ansible.cfg")
    shutil.copy(ROOT / "playbooks/builtin-lab.yml", tree / "playbooks/builtin-lab.yml")
    shutil.copytree(
        ROOT / "inventory", tree / "inventory", ignore=shutil.ignore_patterns("generated-*.yml")
    )
    (tree / "roles/local_lab/tasks").mkdir(parents=True)
    (tree / "roles/local_lab/tasks/main.yml").write_text(STAND_IN)
    (tree / "after.yml").write_text(AFTER)
    return tree


def run_lab_play(tree, tmp_path, *args):
    return run(
        # ansible_connection=local: were anything to connect, it would stay on this machine.
        ["ansible-playbook", "after.yml", "-e", "ansible_connection=local", *args],
        tmp_path, cwd=tree, config=tree / "ansible.cfg",
    )  # fmt: skip


@needs_ansible
def test_the_lab_inventory_brings_the_lab_up_and_later_plays_see_its_new_hosts(tree, tmp_path):
    code, output = run_lab_play(tree, tmp_path, "-i", "inventory/lab")
    assert code == 0, output
    assert (tree / "lab-up-ran").read_text() == "present\n"
    # load2 was not in the inventory when the command started.
    assert "later play on load2" in output and "later play on load1" in output, output
    assert "The built-in lab is up: server1 (server) and " in output
    assert "does not support when conditional" not in output


@needs_ansible
@pytest.mark.parametrize(
    "args",
    [[f"inventory/examples/{example}"] for example in EXAMPLES]
    + [["inventory/lab", "-e", "wirebench_builtin_lab=false"]],
    ids=[*EXAMPLES, "lab-told-false"],
)
def test_any_other_inventory_leaves_the_lab_alone(tree, tmp_path, args):
    code, output = run_lab_play(tree, tmp_path, "-i", *args)
    assert code == 0, output
    assert not (tree / "lab-up-ran").exists(), output
    assert not (tree / "inventory/lab/generated-load-hosts.yml").exists()
    assert "later play on load2" not in output
    assert "local_lab" not in output and "refreshed" not in output, output
