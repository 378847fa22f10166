#!/usr/bin/env python3
"""A tiny SMTP sink for tests (smtpd left the standard library in 3.12).

Speaks EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT (no TLS, no AUTH needed:
AUTH PLAIN/LOGIN are accepted with any credentials). Every accepted message is appended
as one JSON line {"from", "to": [...], "data"} to the file given by --out.
  --drop-after-data N   for the first N messages: read the whole DATA, record it, then
                        close the connection without the final 250 (a crash/timeout after
                        hand-over, as the client sees it)
  --fail-data N         answer the first N DATA payloads with 451 (temporary failure)
  --delay SECONDS       wait this long before greeting each connection (a slow relay)
Prints the port on stdout, then serves until killed."""
import json
import socketserver
import sys
import threading
import time

ARGS = sys.argv[1:]


def opt(name, default=None):
    return ARGS[ARGS.index(name) + 1] if name in ARGS else default


OUT = opt("--out", "/dev/null")
DROP = [int(opt("--drop-after-data", "0"))]
FAIL = [int(opt("--fail-data", "0"))]
DELAY = float(opt("--delay", "0"))
LOCK = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        if DELAY:
            time.sleep(DELAY)
        self.reply("220 sink ESMTP")
        mail_from, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO"):
                self.wfile.write(b"250-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
                self.wfile.flush()
            elif up.startswith("HELO"):
                self.reply("250 sink")
            elif up.startswith("AUTH"):
                words = cmd.split()
                if len(words) == 2 and words[1].upper() == "LOGIN":
                    self.reply("334 VXNlcm5hbWU6")
                    self.rfile.readline()
                    self.reply("334 UGFzc3dvcmQ6")
                    self.rfile.readline()
                elif len(words) == 2:  # PLAIN without an initial response
                    self.reply("334 ")
                    self.rfile.readline()
                self.reply("235 ok")
            elif up.startswith("MAIL FROM:"):
                mail_from, rcpts = cmd[10:].strip(), []
                self.reply("250 ok")
            elif up.startswith("RCPT TO:"):
                rcpts.append(cmd[8:].strip())
                self.reply("250 ok")
            elif up == "DATA":
                self.reply("354 go ahead")
                data = []
                while True:
                    l = self.rfile.readline()
                    if not l or l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    data.append(l.decode(errors="replace"))
                with LOCK:
                    if FAIL[0] > 0:
                        FAIL[0] -= 1
                        self.reply("451 try again later")
                        continue
                    with open(OUT, "a") as f:
                        f.write(json.dumps({"from": mail_from, "to": rcpts, "data": "".join(data)}) + "\n")
                    drop = DROP[0] > 0
                    if drop:
                        DROP[0] -= 1
                if drop:
                    return
                self.reply("250 queued")
            elif up == "RSET":
                mail_from, rcpts = None, []
                self.reply("250 ok")
            elif up == "NOOP":
                self.reply("250 ok")
            elif up == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 unknown command")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
