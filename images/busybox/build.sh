#!/usr/bin/env bash
# Builds the offline test/demo image runfleet/busybox:latest from Debian's
# static busybox (package busybox-static): no registry needed.
# Usage: images/busybox/build.sh [image-name]
set -euo pipefail
name=${1:-runfleet/busybox:latest}
bb=$(command -v busybox || true)
[ -x /bin/busybox ] && bb=/bin/busybox
# A dynamically linked busybox would not run in an empty rootfs.
if [ -z "$bb" ] || ! (ldd "$bb" 2>&1 || true) | grep -q 'not a dynamic executable'; then
  echo "images/busybox: need a static busybox (apt-get install busybox-static)" >&2
  exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,builds,cache,home}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] && continue
  ln -sf busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
P
cat > "$root/etc/group" <<'G'
root:x:0:
nogroup:x:65534:
G
echo "hosts: files dns" > "$root/etc/nsswitch.conf"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/sh"]' \
  --change 'LABEL dev.runfleet.image=busybox' \
  - "$name" >/dev/null
echo "built $name"
