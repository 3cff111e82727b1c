#!/usr/bin/env bash
# A self-signed TLS certificate for trying the Compose stack on your own machine (browsers warn about
# it: it is signed by nobody they trust). For a server reachable by others, put a certificate from
# your CA or from Let's Encrypt in the same two files instead.
#
#   deploy/tls/make-self-signed.sh [HOSTNAME] [DAYS]     # defaults: localhost, 30 days
#
# Writes deploy/tls/tls.crt and deploy/tls/tls.key (both git-ignored), which the frontend container
# mounts read-only at /etc/nginx/tls. The certificate names HOSTNAME, localhost and 127.0.0.1. An
# existing pair is kept unless FORCE=1 is set. The key is readable by its owner only; the container's
# nginx runs as uid 101, so run this with sudo (the key is then given to uid 101) or give it yourself:
# `sudo chown 101 deploy/tls/tls.key`.
set -euo pipefail

host="${1:-localhost}"
days="${2:-30}"
dir="$(cd "$(dirname "$0")" && pwd)"
cert="$dir/tls.crt"
key="$dir/tls.key"

if ! [[ "$host" =~ ^[A-Za-z0-9.-]+$ ]]; then
    echo "make-self-signed.sh: HOSTNAME '$host' may hold letters, digits, '.' and '-' only" >&2
    exit 2
fi
if ! [[ "$days" =~ ^[0-9]+$ ]] || [ "$days" -lt 1 ]; then
    echo "make-self-signed.sh: DAYS '$days' must be a whole number of days, 1 or more" >&2
    exit 2
fi
if ! command -v openssl >/dev/null; then
    echo "make-self-signed.sh: openssl is not installed (apt-get install -y openssl)" >&2
    exit 1
fi
if [ -e "$cert" ] && [ -e "$key" ] && [ "${FORCE:-0}" != "1" ]; then
    echo "$cert and $key exist already; FORCE=1 replaces them" >&2
    exit 0
fi

names="DNS:$host,DNS:localhost,IP:127.0.0.1"
umask 077
tmp_key="$(mktemp "$dir/.tls.key.XXXXXX")"
trap 'rm -f "$tmp_key"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -days "$days" -subj "/CN=$host" \
    -addext "subjectAltName=$names" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "keyUsage=critical,digitalSignature" \
    -addext "extendedKeyUsage=serverAuth" \
    -keyout "$tmp_key" -out "$cert" 2>/dev/null
chmod 0644 "$cert"
chmod 0600 "$tmp_key"
mv "$tmp_key" "$key"
if [ "$(id -u)" = "0" ]; then
    chown 101 "$key"
fi
echo "wrote $cert and $key for $names, valid for $days days"
