"""A VOS-like admin CLI for the tests, run by a real sshd as the test user's ForceCommand.

Standard library only (run by the system's /usr/bin/python3 as an unprivileged user).
The node it plays is chosen by the address the client connected to ($SSH_CONNECTION):
``<root>/<server address>/config.json`` says what it holds and how it misbehaves, and
every line it receives is appended to ``<root>/<server address>/commands.log``.

Like the real CLI: the ``admin:`` prompt after a delay, a line echoed when the CLI reads
it (it edits lines itself: the terminal's own echo is off), paging unless ``set cli
pagination off`` was sent, ``show ...`` outputs with PEM blocks inside free text, and an
error and a new prompt for a command it does not know. Misbehaviours: never prompting,
ignoring ``pagination off``, a ``Continue (y/n)?`` question, a command that takes too long,
garbage instead of a certificate, text put before a command's output (``interject``: a
fake prompt, say), followed by a pause so that it arrives as a read of its own.
"""

import json
import os
import sys
import termios
import time

PAGER = "Press <enter> for 1 line, <space> for one page, or <q> to quit"


def main() -> None:
    root = sys.argv[1]
    server = os.environ.get("SSH_CONNECTION", "- - 127.0.0.1 22").split()[2]
    folder = os.path.join(root, server)
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    log = open(os.path.join(folder, "commands.log"), "a", encoding="utf-8")  # noqa: SIM115
    out = sys.stdout
    state = {"paging": True}
    if sys.stdin.isatty():  # the CLI echoes what it reads, when it reads it
        attributes = termios.tcgetattr(sys.stdin.fileno())
        attributes[3] &= ~termios.ECHO
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, attributes)

    def write(text: str) -> None:
        out.write(text)
        out.flush()

    def receive() -> str | None:
        line = sys.stdin.readline()
        if not line:
            return None
        command = line.rstrip("\r\n")
        write(command + "\n")
        log.write(command + "\n")
        log.flush()
        return command

    def emit(text: str) -> bool:
        lines = text.split("\n")
        page = int(config.get("page_lines", 20))
        if not state["paging"] or len(lines) <= page:
            write(text + "\n")
            return True
        while lines:
            write("\n".join(lines[:page]) + "\n")
            lines = lines[page:]
            if lines:
                write(PAGER)
                if receive() is None:
                    return False
        return True

    write("\nCommand Line Interface is starting up, please wait ...\n\n")
    time.sleep(float(config.get("prompt_delay", 0.2)))
    if config.get("never_prompt"):
        time.sleep(300)
        return
    write("   Welcome to the Platform Command Line Interface\n\n")
    while True:
        write("admin:")
        command = receive()
        if command is None or command in ("quit", "exit"):
            return
        time.sleep(float(config.get("slow", {}).get(command, 0)))
        if command in config.get("interject", {}):
            write(config["interject"][command])
            time.sleep(float(config.get("interject_pause", 0.5)))
        if command == config.get("question_on"):
            write("This command may take a long time. Continue (y/n)?")
            answer = receive()
            if answer is None:
                return
            if answer.strip().lower() != "y":
                write("\nCancelled.\n")
                continue
        if command == "set cli pagination off":
            if not config.get("ignore_pagination_off"):
                state["paging"] = False
            write("Automatic Pagination is Off\n")
        elif command == "show version active":
            options = config.get("options", [])
            text = (f"Active Master Version: {config.get('version', '11.5.1.10000-61')}\n"
                    "Active Version Installed Software Options:\n")
            text += "\n".join(options) if options else "No Installed Software Options Found."
            if not emit(text):
                return
        elif command.startswith("show cert own "):
            unit = command[len("show cert own "):]
            key = {"tomcat": "tomcat", "tomcat-ECDSA": "tomcat_ecdsa", "ipsec": "ipsec"}.get(unit)
            pem = config.get(key) if key else None
            if config.get("garbage") == unit:
                pem = "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n" \
                      "-----END CERTIFICATE-----"
            if pem is None:
                write(f"Executed command unsuccessfully\nInvalid unit: {unit}\n")
                continue
            if not emit(_certificate_text(unit, pem)):
                return
        elif command == "show cert list trust":
            lines = [f"tomcat-trust/{name}: Trust Certificate {name}"
                     for name in config.get("trust", {})]
            lines += ["ipsec-trust/ipsec-node.pem: Trust Certificate",
                      "CallManager-trust/cm-node.pem: Trust Certificate"]
            if not emit("\n".join(lines)):
                return
        elif command.startswith("show cert trust tomcat-trust/"):
            name = command[len("show cert trust tomcat-trust/"):]
            pem = config.get("trust", {}).get(name)
            if pem is None:
                write(f"Executed command unsuccessfully\nNo such certificate: {name}\n")
                continue
            if not emit(_certificate_text(f"tomcat-trust/{name}", pem)):
                return
        else:
            write("Executed command unsuccessfully\nInvalid command\n")


def _certificate_text(unit: str, pem: str) -> str:
    body = "".join(pem.strip().splitlines()[1:-1])
    wrapped = "\n".join(body[i:i + 76] for i in range(0, len(body), 76))
    return ("[\n  Version: V3\n  Serial Number: see below\n"
            f"  Unit: {unit}\n  SignatureAlgorithm: (free text the auditor must not parse)\n"
            "  Extensions: 3 present\n]\n\n"
            f"-----BEGIN CERTIFICATE-----\n{wrapped}\n-----END CERTIFICATE-----\n")


if __name__ == "__main__":
    main()
