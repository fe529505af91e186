#!/bin/sh
# The Debian packages the tests use, installed when this machine can (root + apt-get):
#   python3-venv     the README's commands install into a venv (Debian's python3 lacks
#                    ensurepip without it); tests/test_install.py runs Debian's python3
#   openssl          s_client cross-checks and fixture text dumps
#   ca-certificates  the default agents' trust store (the system store)
#   chromium         the real browser: certificate received, HTML report rendering
#   tomcat10         a real Tomcat with an RSA and an EC certificate on one connector
#   fonts-dejavu-core  readable report screenshots
#   libnss3-tools    certutil: a test root in the NSS database Chromium trusts (trust corpus)
#   poppler-utils    pdftotext / pdftoppm read the PDF report back
#   openssh-server   a real sshd serving a VOS-like CLI to the VOS CLI collector
set -eu
PACKAGES="python3-venv openssl ca-certificates chromium tomcat10 fonts-dejavu-core libnss3-tools poppler-utils
          openssh-server"
missing=""
for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "test-deps: please install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
