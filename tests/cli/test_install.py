"""`make install` into a scratch DESTDIR: the binary, the man page, the systemd unit with
ExecStart in the PREFIX's bin, the example config, nothing outside DESTDIR/PREFIX.
make runs with `-o fulfill`: it installs the ./fulfill the other tests use and never
rebuilds it, even when a source file is newer."""
import filecmp
import os
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from fulfilltest import MASTER_KEY, ROOT, Server, free_port

# variables the Makefile takes from the environment, and a parent make's job server
SCRUB = ("DESTDIR", "PREFIX", "BINDIR", "DATADIR", "MANDIR", "SYSTEMDUNITDIR",
         "MAKEFLAGS", "MFLAGS", "MAKELEVEL")


class Install(unittest.TestCase):
    def install(self, prefix):
        """Runs make install with PREFIX=prefix; returns DESTDIR."""
        dest = tempfile.mkdtemp(prefix="fulfill-install-")
        self.addCleanup(shutil.rmtree, dest, True)
        env = {k: v for k, v in os.environ.items() if k not in SCRUB}
        r = subprocess.run(["make", "--no-print-directory", "-o", "fulfill", "install",
                            f"DESTDIR={dest}", f"PREFIX={prefix}"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("cc ", r.stdout)  # nothing was compiled
        return dest

    def assertInstalled(self, path, mode, same_as=None):
        self.assertTrue(os.path.isfile(path), f"{path} not installed")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), mode, path)
        if same_as:
            self.assertTrue(filecmp.cmp(path, os.path.join(ROOT, same_as), shallow=False),
                            f"{path} differs from {same_as}")

    def assertUnitRuns(self, unit, bindir):
        self.assertInstalled(unit, 0o644)
        text = open(unit).read()
        self.assertNotIn("@BINDIR@", text)
        self.assertNotIn("@DATADIR@", text)
        execs = [line.split("=", 1)[1].split()[0] for line in text.splitlines()
                 if line.startswith(("ExecStart=", "ExecStartPre="))]
        self.assertEqual(len(execs), 2, text)
        for exe in execs:
            self.assertEqual(exe, bindir + "/fulfill")

    def test_layout_under_prefix_usr(self):
        dest = self.install("/usr")
        root = dest + "/usr"
        self.assertInstalled(root + "/bin/fulfill", 0o755, same_as="fulfill")
        r = subprocess.run([root + "/bin/fulfill", "--help"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertInstalled(root + "/share/man/man1/fulfill.1", 0o644, same_as="docs/fulfill.1")
        self.assertInstalled(root + "/share/fulfill/fulfill.conf", 0o644,
                             same_as="etc/fulfill.conf")
        unit = root + "/lib/systemd/system/fulfill.service"
        self.assertUnitRuns(unit, "/usr/bin")
        # the setup steps in the unit's comment name the installed example config
        self.assertIn("install -m 0640 -g fulfill /usr/share/fulfill/fulfill.conf "
                      "/etc/fulfill/fulfill.conf", open(unit).read())
        # web/ (console and portal) is installed when the tree has one
        web = os.path.join(ROOT, "web")
        if os.path.isdir(web) and os.listdir(web):
            for name in os.listdir(web):
                self.assertTrue(os.path.exists(os.path.join(root, "share/fulfill/web", name)),
                                name)
            # every page file is installed as a file of its own: the portal's modules
            # shared with the console are symlinks in the tree, copies when installed
            for section in ("console", "portal"):
                for name in os.listdir(os.path.join(web, section)):
                    got = os.path.join(root, "share/fulfill/web", section, name)
                    self.assertTrue(os.path.isfile(got) and not os.path.islink(got), got)
                    with open(got, "rb") as a, open(os.path.join(web, section, name), "rb") as b:
                        self.assertEqual(a.read(), b.read(), got)
        # DESTDIR is honoured: everything lands under DESTDIR/PREFIX
        for dirpath, _, files in os.walk(dest):
            for f in files:
                self.assertTrue(os.path.join(dirpath, f).startswith(root + "/"), (dirpath, f))

    def test_installed_server_finds_its_pages(self):
        # started from a directory without web/, as the unit starts it (/var/lib/fulfill)
        dest = self.install("/usr")
        exe = dest + "/usr/bin/fulfill"
        if not os.path.isdir(os.path.join(ROOT, "web", "console")):
            self.skipTest("no web/ in the tree")
        work = tempfile.mkdtemp(prefix="fulfill-install-run-")
        self.addCleanup(shutil.rmtree, work, True)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FULFILL_")}
        env.update(FULFILL_DB="sqlite:" + os.path.join(work, "f.db"), FULFILL_MASTER_KEY=MASTER_KEY)
        log = open(os.path.join(work, "serve.log"), "w+")
        p = subprocess.Popen([exe, "serve", "--listen", f"127.0.0.1:{port}", "--no-worker"], cwd=work,
                             env=env, stdout=log, stderr=log)
        try:
            srv = Server(port, p)
            for _ in range(200):
                try:
                    srv.request("GET", "/healthz")
                    break
                except OSError:
                    time.sleep(0.05)
            st, body, _ = srv.request("GET", "/console/app.js", raw=True)
            self.assertEqual(st, 200)
            with open(os.path.join(ROOT, "web", "console", "app.js"), "rb") as f:
                self.assertEqual(body, f.read())
        finally:
            p.terminate()
            p.wait(30)
        log.seek(0)
        self.assertNotIn('"level":"warn"', log.read())

    def test_other_prefix_moves_the_unit_and_its_exec_path(self):
        dest = self.install("/opt/ff")
        root = dest + "/opt/ff"
        self.assertInstalled(root + "/bin/fulfill", 0o755)
        self.assertInstalled(root + "/share/man/man1/fulfill.1", 0o644)
        self.assertInstalled(root + "/share/fulfill/fulfill.conf", 0o644)
        self.assertUnitRuns(root + "/lib/systemd/system/fulfill.service", "/opt/ff/bin")


if __name__ == "__main__":
    unittest.main()
