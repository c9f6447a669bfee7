#!/bin/sh
# Restart the imagechat-server processes one at a time, each ready again (/readyz) and back in
# HAProxy's rotation before the next goes: no client is offline for longer than a reconnect.
#   deploy/rolling-restart.sh 8101 8102
set -eu
[ "$#" -gt 0 ] || set -- 8101 8102
for port in "$@"; do
    systemctl restart "imagechat-server@$port"
    tries=0
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"; do
        tries=$((tries + 1))
        [ "$tries" -le 300 ] || { echo "imagechat-server@$port is not ready after 30 s" >&2; exit 1; }
        sleep 0.1
    done
    sleep 3  # HAProxy's rise: 2 checks, 1 s apart
done
