# repro's Python hook step: runs in the `default` builder image as an unprivileged user with the
# network OFF. It installs the build-system requirements from the wheels downloaded so far into
# an isolated environment (as `python3 -m build` does) and asks the backend what else building
# an sdist and a wheel needs. This runs the project's code (setup.py), hence no network.
# Out: /fetch/state/hook-requires.txt, one requirement a line.
import os
import shutil
import sys

os.environ.update(
    HOME="/tmp/home",
    PIP_CONFIG_FILE=os.devnull,
    PIP_NO_INDEX="1",
    PIP_FIND_LINKS="/fetch/out/python",
    PIP_NO_CACHE_DIR="1",
    PIP_DISABLE_PIP_VERSION_CHECK="1",
)
from build import ProjectBuilder  # noqa: E402
from build.env import DefaultIsolatedEnv  # noqa: E402

src = "/tmp/src"
# Backends write into the tree (egg-info, caches); /src is read-only.
shutil.copytree("/src", src, symlinks=True)
with DefaultIsolatedEnv() as env:
    builder = ProjectBuilder.from_isolated_env(env, src)
    env.install(builder.build_system_requires)
    wanted = set()
    for distribution in ("sdist", "wheel"):
        wanted |= builder.get_requires_for_build(distribution)
with open("/fetch/state/hook-requires.txt", "w") as out:
    for requirement in sorted(wanted):
        out.write(requirement + "\n")
print("repro: the build backend asks for: " + (", ".join(sorted(wanted)) or "nothing more"), file=sys.stderr)
