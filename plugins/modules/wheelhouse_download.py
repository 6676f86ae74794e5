#!/usr/bin/python
"""Download binary wheels for other interpreters and platforms into a wheelhouse."""

from __future__ import annotations

import json
import os
import re
import subprocess

DOCUMENTATION = r"""
---
module: wheelhouse_download
short_description: Make a wheelhouse of binary wheels for hosts without internet
description:
  - For each target interpreter (Python version, implementation, ABI), runs
    C(pip download), binary wheels only, once per requirement into O(dest)/<target name>/, so
    hosts can install with C(pip install --no-index --find-links).
  - A requirement that has no wheel for a target is recorded as C(unavailable) with pip's
    reason (and the versions that do exist) instead of failing; any other pip error fails.
  - Writes O(dest)/<target name>/manifest.json describing what is there. A target whose
    manifest matches the request and whose wheels are all present is not downloaded again.
options:
  dest:
    description: Wheelhouse directory (one subdirectory per target).
    type: path
    required: true
  requirements:
    description: Requirement specifiers; when empty, the O(extra) of O(pyproject) is used.
    type: list
    elements: str
    default: []
  pyproject:
    description: pyproject.toml whose optional dependencies list the requirements.
    type: path
  extra:
    description: Name of the optional-dependencies group of O(pyproject).
    type: str
  targets:
    description:
      - Interpreters to download for, each with C(name), C(python_version) (e.g. V(3.11)),
        C(implementation) (V(cp) or V(pp)), C(abi) (e.g. V(cp311), V(pypy39_pp73)) and
        optionally C(pins), a mapping of package name to the version to use for this target.
    type: list
    elements: dict
    required: true
  platforms:
    description: Platform tags wheels may have (pure-Python wheels are always accepted).
    type: list
    elements: str
    default: [manylinux_2_17_x86_64, manylinux_2_28_x86_64]
  pip:
    description: Command that runs pip.
    type: list
    elements: str
    required: true
author: wirebench
"""

RETURN = r"""
targets:
  description: The manifest of each target.
  type: dict
  returned: always
unavailable:
  description: One line per requirement with no wheel (target, requirement, reason).
  type: list
  returned: always
"""

FORMAT = "wirebench-wheelhouse/1"
NO_WHEEL = re.compile(r"No matching distribution found|Could not find a version that satisfies")
VERSIONS = re.compile(r"\(from versions: ([^)]*)\)")
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class WheelhouseError(Exception):
    pass


def requirements_from_pyproject(path, extra):
    import tomllib

    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    try:
        return list(data["project"]["optional-dependencies"][extra])
    except KeyError as exc:
        raise WheelhouseError(f"{path} has no optional dependency group {extra!r}") from exc


def package_name(requirement):
    match = NAME.match(requirement)
    if not match:
        raise WheelhouseError(f"cannot read a package name from {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def pinned(requirements, pins):
    """Requirements with the target's pins applied (package name -> version)."""
    pins = {package_name(name): version for name, version in (pins or {}).items()}
    return [
        f"{package_name(req)}=={pins[package_name(req)]}" if package_name(req) in pins else req
        for req in requirements
    ]


def pip_argv(pip, target, platforms, dest, requirement):
    argv = [
        *pip,
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--python-version",
        str(target["python_version"]),
        "--implementation",
        target["implementation"],
        "--abi",
        target["abi"],
        "--abi",
        "none",
    ]
    for platform in [*platforms, "any"]:
        argv += ["--platform", platform]
    return [*argv, "--dest", dest, requirement]


def unavailable_reason(stderr):
    """pip's reason when a requirement has no wheel for the target, else None."""
    if not NO_WHEEL.search(stderr):
        return None
    versions = VERSIONS.search(stderr)
    available = versions.group(1).strip() if versions else "none"
    return f"no wheel for this interpreter and platform; versions with one: {available or 'none'}"


def wheels(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".whl"))


def request_of(target, requirements, platforms):
    return {
        "target": {key: target[key] for key in ("name", "python_version", "implementation", "abi")},
        "platforms": list(platforms),
        "requested": list(requirements),
    }


def up_to_date(manifest_path, request, directory):
    try:
        with open(manifest_path) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return None
    if manifest.get("format") != FORMAT or any(manifest.get(k) != v for k, v in request.items()):
        return None
    present = set(wheels(directory))
    for entry in manifest["requirements"].values():
        if not set(entry.get("wheels", [])) <= present:
            return None
    return manifest


def fill_target(run, pip, target, requirements, platforms, dest, check_mode=False):
    """(manifest, changed) for one target; downloads only when the manifest is stale.

    In check mode nothing is downloaded: a stale target reports changed with an empty
    manifest (no requirements known yet).
    """
    directory = os.path.join(dest, target["name"])
    manifest_path = os.path.join(directory, "manifest.json")
    requirements = pinned(requirements, target.get("pins"))
    request = request_of(target, requirements, platforms)
    manifest = up_to_date(manifest_path, request, directory)
    if manifest is not None:
        return manifest, False
    if check_mode:
        return {"format": FORMAT, **request, "requirements": {}}, True
    os.makedirs(directory, exist_ok=True)
    records = {}
    for requirement in requirements:
        before = set(wheels(directory))
        rc, out, err = run(pip_argv(pip, target, platforms, directory, requirement))
        if rc == 0:
            # pip names every file it used, whether downloaded now or already there.
            used = set(re.findall(r"([^\s/]+\.whl)", out)) | (set(wheels(directory)) - before)
            records[requirement] = {"status": "ok", "wheels": sorted(used & set(wheels(directory)))}
            continue
        reason = unavailable_reason(err)
        if reason is None:
            raise WheelhouseError(
                f"pip download {requirement} for {target['name']} failed (rc={rc}): {err.strip()}"
            )
        records[requirement] = {"status": "unavailable", "reason": reason}
    manifest = {"format": FORMAT, **request, "requirements": records}
    with open(manifest_path + ".tmp", "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(manifest_path + ".tmp", manifest_path)
    return manifest, True


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "requirements": {"type": "list", "elements": "str", "default": []},
            "pyproject": {"type": "path"},
            "extra": {"type": "str"},
            "targets": {"type": "list", "elements": "dict", "required": True},
            "platforms": {
                "type": "list",
                "elements": "str",
                "default": ["manylinux_2_17_x86_64", "manylinux_2_28_x86_64"],
            },
            "pip": {"type": "list", "elements": "str", "required": True},
        },
        required_by={"pyproject": ["extra"]},
        supports_check_mode=True,
    )
    p = module.params

    def run(argv):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    try:
        requirements = p["requirements"] or (
            requirements_from_pyproject(p["pyproject"], p["extra"]) if p["pyproject"] else []
        )
        if not requirements:
            raise WheelhouseError("no requirements: give requirements or pyproject and extra")
        manifests, changed = {}, False
        for target in p["targets"]:
            missing = {"name", "python_version", "implementation", "abi"} - set(target)
            if missing:
                raise WheelhouseError(f"target {target!r} lacks {', '.join(sorted(missing))}")
            manifest, target_changed = fill_target(
                run, p["pip"], target, requirements, p["platforms"], p["dest"], module.check_mode
            )
            manifests[target["name"]] = manifest
            changed = changed or target_changed
    except WheelhouseError as exc:
        module.fail_json(msg=str(exc))
    unavailable = [
        f"{name}: {requirement} ({entry['reason']})"
        for name, manifest in manifests.items()
        for requirement, entry in manifest["requirements"].items()
        if entry["status"] != "ok"
    ]
    module.exit_json(changed=changed, targets=manifests, unavailable=unavailable)


if __name__ == "__main__":
    main()
