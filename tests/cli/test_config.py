"""The settings layer: flag > environment > config file > default, shown by
`fulfill config show` with its source; secrets masked; bad config files."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fulfilltest import BIN, MASTER_KEY, FulfillTest, Server, free_port  # noqa: E402


class Config(FulfillTest):
    def show(self, *args, env=None):
        e = dict(self.env.env)
        for k in [k for k in e if k.startswith("FULFILL_")]:
            del e[k]
        e.update(env or {})
        saved = self.env.env
        self.env.env = e
        try:
            r = self.env.cli("config", "show", "--json", *args)
        finally:
            self.env.env = saved
        self.assertEqual(r.returncode, 0, r.stderr)
        return {s["name"]: s for s in json.loads(r.stdout)}

    def test_defaults(self):
        s = self.show()
        self.assertEqual(s["db"]["value"], "sqlite:fulfill.db")
        self.assertEqual(s["db"]["source"], "default")
        self.assertEqual(s["listen"]["value"], "127.0.0.1:8080")
        self.assertEqual(s["db"]["env"], "FULFILL_DB")

    def test_precedence_flag_env_file(self):
        conf = self.env.write("f.conf", "# comment\n\ndb = sqlite:/tmp/from-file.db\n"
                                        "listen = 0.0.0.0:9000\nlog_level = warn\n"
                                        "http_threads=8\n")
        s = self.show("--config", conf)
        self.assertEqual((s["db"]["value"], s["db"]["source"]), ("sqlite:/tmp/from-file.db", "file"))
        self.assertEqual((s["listen"]["value"], s["listen"]["source"]), ("0.0.0.0:9000", "file"))
        self.assertEqual(s["http_threads"]["value"], "8")
        s = self.show("--config", conf, env={"FULFILL_DB": "sqlite:/tmp/from-env.db"})
        self.assertEqual((s["db"]["value"], s["db"]["source"]), ("sqlite:/tmp/from-env.db", "env"))
        self.assertEqual(s["listen"]["source"], "file")
        s = self.show("--config", conf, "--db", "sqlite:/tmp/from-flag.db",
                      env={"FULFILL_DB": "sqlite:/tmp/from-env.db"})
        self.assertEqual((s["db"]["value"], s["db"]["source"]), ("sqlite:/tmp/from-flag.db", "flag"))
        self.assertEqual(s["config"]["value"], conf)
        self.assertEqual(s["config"]["source"], "flag")
        # the config file named by the environment
        s = self.show(env={"FULFILL_CONFIG": conf})
        self.assertEqual(s["config"]["source"], "env")
        self.assertEqual(s["listen"]["value"], "0.0.0.0:9000")

    def test_flag_with_equals_and_boolean(self):
        s = self.show("--listen=127.0.0.1:1234", "--no-worker")
        self.assertEqual(s["listen"]["value"], "127.0.0.1:1234")
        self.assertEqual((s["no_worker"]["value"], s["no_worker"]["source"]), ("true", "flag"))

    def test_secrets_masked(self):
        conf = self.env.write("f.conf", f"master_key = {MASTER_KEY}\n"
                                        "db = postgres://app:hunter2@db.internal/fulfill\n")
        s = self.show("--config", conf)
        self.assertEqual(s["master_key"]["value"], "********")
        self.assertTrue(s["master_key"]["secret"])
        self.assertNotIn("hunter2", s["db"]["value"])
        self.assertIn("db.internal", s["db"]["value"])
        r = self.env.cli("config", "show", "--config", conf)
        self.assertNotIn(MASTER_KEY, r.stdout)
        self.assertNotIn("hunter2", r.stdout)
        self.assertIn("SOURCE", r.stdout.splitlines()[0])

    def test_database_passwords_masked_in_every_form(self):
        cases = {
            "postgres://app:hunter2@db.internal:5432/fulfill": "postgres://app:****@db.internal:5432/fulfill",
            "postgres://db.internal/fulfill?user=app&password=hunter2&sslmode=require":
                "postgres://db.internal/fulfill?user=app&password=****&sslmode=require",
            "postgresql://app@db.internal/fulfill?sslpassword=hunter2":
                "postgresql://app@db.internal/fulfill?sslpassword=****",
            "host=db.internal user=app password=hunter2 dbname=fulfill":
                "host=db.internal user=app password=**** dbname=fulfill",
            "host=db.internal password='hunter2 \\' x' dbname=fulfill":
                "host=db.internal password=**** dbname=fulfill",
            # nothing secret: shown as it is
            "postgres://db.internal:5432/fulfill?application_name=pw": "postgres://db.internal:5432/fulfill?application_name=pw",
            "sqlite:/var/lib/fulfill/password=x.db": "sqlite:/var/lib/fulfill/password=x.db",
        }
        for db, shown in cases.items():
            for how in ("env", "file"):
                if how == "env":
                    s = self.show(env={"FULFILL_DB": db})
                else:
                    s = self.show("--config", self.env.write("m.conf", f"db = {db}\n"))
                self.assertEqual(s["db"]["value"], shown, (db, how))
        r = self.env.cli("config", "show", "--config",
                         self.env.write("m.conf", "db = postgres://h/db?password=hunter2\n"))
        self.assertNotIn("hunter2", r.stdout)

    def test_http_limits_and_group_commit_settings(self):
        s = self.show("--http-group-commit", "0", "--http-request-timeout", "60",
                      env={"FULFILL_HTTP_MAX_CONNECTIONS_PER_IP": "8"})
        self.assertEqual((s["http_group_commit"]["value"], s["http_group_commit"]["source"]), ("0", "flag"))
        self.assertEqual(s["http_request_timeout"]["value"], "60")
        self.assertEqual((s["http_max_connections_per_ip"]["value"],
                          s["http_max_connections_per_ip"]["source"]), ("8", "env"))
        self.assertEqual((s["http_max_connections"]["value"], s["http_max_connections"]["source"]),
                         ("1000", "default"))
        for bad in (("--http-group-commit", "yes"), ("--http-request-timeout", "0"),
                    ("--http-max-connections", "-1"), ("--http-max-connections-per-ip", "x")):
            r = self.env.cli("serve", "--listen", "127.0.0.1:1", *bad)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
            self.assertIn(bad[0][2:].replace("-", "_"), r.stderr)

    def test_booleans_are_checked(self):
        for v, want in (("YES", "YES"), ("on", "on"), ("0", "0"), ("Off", "Off")):
            self.assertEqual(self.show(env={"FULFILL_NO_WORKER": v})["no_worker"]["value"], want)
        # a typo is an error, not a quiet "false" that leaves the worker running
        conf = self.env.write("typo.conf", "no_worker = ture\n")
        r = self.env.cli("config", "show", "--config", conf)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no_worker (from file) must be true or false", r.stderr)
        self.assertIn("'ture'", r.stderr)
        e = dict(self.env.env, FULFILL_NO_WORKER="nope")
        r = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:1"], env=e, capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no_worker (from env)", r.stderr)

    def start(self, *args, env=None):
        """`fulfill ARGS serve` with only the FULFILL_* variables in `env`; returns the
        process once it is up on one of the ports tried, and that port."""
        e = {k: v for k, v in os.environ.items() if not k.startswith("FULFILL_")}
        e.update(env or {})
        p = subprocess.Popen([BIN, *args, "serve", "--no-worker"], env=e, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        self.env.procs.append(p)
        return p

    def listening(self, proc, ports):
        """The one of `ports` the server answers on (and that the others stay closed)."""
        deadline = time.time() + 10
        while time.time() < deadline and proc.poll() is None:
            up = []
            for port in ports:
                try:
                    if Server(port, proc).request("GET", "/healthz")[0] == 200:
                        up.append(port)
                except OSError:
                    pass
            if up:
                return up
            time.sleep(0.05)
        self.fail(f"server not up on any of {ports} (exit {proc.poll()})")

    def test_precedence_holds_for_a_running_server(self):
        """Not only `config show`: the server listens where the winning source says, and
        applies the rate limit of the winning source."""
        db = "sqlite:" + os.path.join(self.env.dir, "prec.db")
        base = {"FULFILL_MASTER_KEY": MASTER_KEY}
        key = self.env.cli("--db", db, "keys", "create", "--role", "admin", check=True).stdout.strip()
        p_file, p_env, p_flag = free_port(), free_port(), free_port()
        conf = self.env.write("prec.conf", f"db = {db}\nlisten = 127.0.0.1:{p_file}\n"
                                           "http_rate = 1\nhttp_burst = 2\n")
        ports = (p_file, p_env, p_flag)

        def codes(port, n=4):
            srv = Server(port, None)
            return [srv.request("GET", "/v1/audit", key=key)[0] for _ in range(n)]

        # the file alone
        p = self.start("--config", conf, env=base)
        self.assertEqual(self.listening(p, ports), [p_file])
        self.assertEqual(codes(p_file)[:2], [200, 200])
        self.assertIn(429, codes(p_file))
        p.terminate()
        self.assertEqual(p.wait(20), 0)
        # the environment beats the file
        p = self.start("--config", conf, env=dict(base, FULFILL_LISTEN=f"127.0.0.1:{p_env}", FULFILL_HTTP_RATE="0"))
        self.assertEqual(self.listening(p, ports), [p_env])
        self.assertEqual(codes(p_env, 6), [200] * 6)
        p.terminate()
        self.assertEqual(p.wait(20), 0)
        # a flag beats both
        p = self.start("--config", conf, "--listen", f"127.0.0.1:{p_flag}", "--http-rate", "1",
                       env=dict(base, FULFILL_LISTEN=f"127.0.0.1:{p_env}", FULFILL_HTTP_RATE="0"))
        self.assertEqual(self.listening(p, ports), [p_flag])
        self.assertIn(429, codes(p_flag))
        p.terminate()
        self.assertEqual(p.wait(20), 0)

    def test_master_key_is_never_a_flag(self):
        r = self.env.cli("config", "show", "--master-key", MASTER_KEY)
        self.assertEqual(r.returncode, 2)

    def test_bad_config_files(self):
        bad = self.env.write("bad.conf", "db = x\nwhatever = 1\n")
        r = self.env.cli("config", "show", "--config", bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.conf:2", r.stderr)
        self.assertIn("whatever", r.stderr)
        r = self.env.cli("config", "show", "--config", self.env.write("b2.conf", "just words\n"))
        self.assertEqual(r.returncode, 2)
        r = self.env.cli("config", "show", "--config", os.path.join(self.env.dir, "missing.conf"))
        self.assertEqual(r.returncode, 1)

    def test_sqlite_checkpoint_pages_is_checked(self):
        self.assertEqual(self.show()["sqlite_checkpoint_pages"]["value"], "25000")
        for bad in ("5", "lots", "10x", "2000000"):
            r = self.env.cli("--sqlite-checkpoint-pages", bad, "migrate")
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("sqlite_checkpoint_pages", r.stderr)
        r = self.env.cli("--sqlite-checkpoint-pages", "5000", "migrate")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_config_file_drives_commands(self):
        path = os.path.join(self.env.dir, "via-conf.db")
        conf = self.env.write("db.conf", f"db = sqlite:{path}\nmaster_key = {MASTER_KEY}\n")
        e = {k: v for k, v in self.env.env.items() if k not in ("FULFILL_DB", "FULFILL_MASTER_KEY")}
        saved = self.env.env
        self.env.env = e
        try:
            r = self.env.cli("--config", conf, "migrate")
        finally:
            self.env.env = saved
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(path))
        self.assertFalse(os.path.exists(path + ".key"))  # the key came from the file

    def test_etc_fulfill_conf_is_valid(self):
        from fulfilltest import ROOT
        conf = os.path.join(ROOT, "etc", "fulfill.conf")
        s = self.show("--config", conf)
        # every setting of the table appears in the example file (commented or not)
        text = open(conf).read()
        for name in s:
            if name != "config":
                self.assertIn(name, text)


if __name__ == "__main__":
    unittest.main()
