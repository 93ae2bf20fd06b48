#!/usr/bin/env bash
# A Debian system changed by its own tools, on kernel overlayfs, unionfuse and
# fuse-overlayfs in turn: the merged trees and the upper layers they leave
# must match kernel overlayfs'. Run by hand (it needs root, debootstrap and
# deb.debian.org), not by tests/run.sh.
#
#   1. debootstrap a minimal bookworm into WORKDIR/rootfs (once), and have
#      apt download python3, git, make and gcc into its cache, and the .debs
#      of five packages it has already (once);
#   2. cut it into two layers: l0 without /usr/share, l1 with /usr/share
#      alone, so /usr and everything dpkg touches there merges two layers;
#   3. on each filesystem, with a new upper layer: chroot in (with /proc and
#      /dev bound) and run the scenario below: apt-get install from the
#      cache, dpkg -i of the five over themselves, dpkg --purge, useradd,
#      rm -rf of a lower tree, python's compileall, git (commit, local clone,
#      branch, gc), sed -i and perl -pi over lower files, chmod -R and
#      chown -R of lower trees, a lower directory moved, directories and
#      files replacing each other, find -delete, and from python: an sqlite
#      database in WAL mode, an xattr, truncate, append, overwrite and
#      fallocate of lower files, a fifo, a device, hard links (of a lower
#      file, and of an upper one written and unlinked), rename, utime; a
#      build with make, gcc and ar, a python venv, ldconfig and
#      update-alternatives;
#   4. list the merged tree and the upper layer (type, mode, owner, size,
#      md5, link target, device numbers, xattrs: in the upper layer these
#      are the whiteouts and opaque markers) and compare them with kernel
#      overlayfs'. It prints each filesystem's time and the differences.
#
# Expected differences: unionfuse copies a file up at its first change, not
# when it is opened for writing (README, "What it does"), so files opened
# for writing and never written (/etc/.pwd.lock, apt's lock, debconf's
# databases) are in kernel overlayfs' upper layer only. A lower directory
# moved: kernel overlayfs without redirect_dir refuses (EXDEV) and mv copies
# it into a new directory; unionfuse moves it, copied up, and marks it opaque
# (README), the same merged tree. A few files hold
# times, inode numbers or random bytes by nature (VOLATILE, not compared).
# Found with it: directories dpkg makes as NAME.dpkg-new and renames in place
# were not marked opaque as overlayfs marks them (fixed in fs/rename.c).
#
# Usage: tests/distro/compare.sh WORKDIR [UNIONFUSE_BINARY]
set -u

WORK=${1:?usage: compare.sh WORKDIR [UNIONFUSE_BINARY]}
UF=${2:-$(dirname "$0")/../../build/unionfuse}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES="python3 git make gcc"
# Installed already: their .debs, downloaded too, are installed again over the
# lower layers' files (dpkg unpacks each file as NAME.dpkg-new, then renames).
REINSTALL="coreutils bash dpkg libc-bin tzdata"
# Paths whose content changes from run to run whatever the filesystem.
VOLATILE='^(srv/repo/\.git/index|srv/clone/\.git/index|var/log/|var/cache/ldconfig/aux-cache|var/cache/apt/pkgcache\.bin|var/cache/apt/srcpkgcache\.bin|etc/shadow|tmp/)'

die() { echo "compare.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (chroot, kernel overlayfs)"
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
[ -x "$UF" ] || die "no unionfuse binary at $UF"
UF=$(realpath "$UF")
mkdir -p "$WORK" || die "cannot make $WORK"
WORK=$(realpath "$WORK")

# The changes a system's own tools make, run inside the chroot (the packages
# are those of PACKAGES and REINSTALL, downloaded into the layer).
scenario() {
        cat <<'EOF'
set -e  # one command a line: a failure within an && list would not stop it
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
export GIT_AUTHOR_DATE=@1700000000 GIT_COMMITTER_DATE=@1700000000
apt-get install -y -q --no-install-recommends python3 git make gcc >/tmp/apt.log
cd /var/cache/apt/archives
dpkg -i coreutils_*.deb bash_*.deb dpkg_*.deb libc-bin_*.deb tzdata_*.deb >/tmp/reinstall.log
cd /
dpkg --purge e2fsprogs >/tmp/purge.log 2>&1
useradd -m alice
rm -rf /usr/share/doc/*
python3 -m compileall -q /usr/lib/python3.11 >/dev/null
git init -q /srv/repo
cd /srv/repo
echo hi > f
git add f
git -c user.email=a@b -c user.name=a commit -qm init
mv /etc/motd /etc/motd.old
ln -s /etc/motd.old /etc/motd
chmod 700 /root
chown alice /srv/repo
ln /etc/hostname /etc/hostname.hard
touch -d @1000000000 /etc/issue
rm -rf /var/lib/apt/lists/*
# git: a local clone (it hard-links the objects), a branch, a gc (packs, prunes)
git clone -q /srv/repo /srv/clone
cd /srv/clone
git checkout -q -b topic
echo more >> f
git -c user.email=a@b -c user.name=a commit -qam more
git gc -q --prune=now
git checkout -q master
cd /
# files edited in place as sed and perl do: a new file renamed over the lower one
sed -i 's/^UMASK.*/UMASK 027/' /etc/login.defs
perl -pi -e 's/^#DSHELL=.*/DSHELL=\/bin\/sh/' /etc/adduser.conf
# a lower tree's metadata: modes and owners of many files and directories
chmod -R go-w /usr/share/zoneinfo/America
chown -R alice:alice /usr/share/zoneinfo/Africa
touch -d @1100000000 /usr/share/zoneinfo/Arctic
# a lower directory moved, a directory replaced by a file and a file by a
# directory, a lower directory removed and made again, deletions in many places
mv /usr/share/zoneinfo/Asia /usr/share/zoneinfo/Asia.moved
rm -rf /usr/share/zoneinfo/Europe
echo file > /usr/share/zoneinfo/Europe
rm /etc/debian_version
mkdir /etc/debian_version
echo 12 > /etc/debian_version/number
rm -rf /etc/cron.daily
mkdir /etc/cron.daily
find /usr/share/locale -name '*.mo' -delete
python3 - <<'PY'
import os, sqlite3, stat
db = sqlite3.connect('/var/lib/app.db')
db.execute('pragma journal_mode=wal')
db.execute('create table t (k integer primary key, v text)')
for i in range(2000):
    db.execute('insert into t values (?, ?)', (i, 'x' * (i % 97)))
    if i % 500 == 0:
        db.commit()
db.commit()
db.execute('delete from t where k % 3 = 0')
db.commit()
db.execute('vacuum')
db.close()
os.setxattr('/etc/issue.net', 'user.note', b'set on a lower file')
os.truncate('/etc/nsswitch.conf', 100)
with open('/etc/shells', 'a') as f:
    f.write('# appended\n')
with open('/etc/host.conf', 'r+b') as f:
    f.seek(10)
    f.write(b'overwritten')
fd = os.open('/etc/gai.conf', os.O_RDWR)
os.posix_fallocate(fd, 0, 1 << 20)
os.close(fd)
os.mkfifo('/run/fifo')
os.mknod('/root/null', stat.S_IFCHR | 0o600, os.makedev(1, 3))
os.link('/etc/passwd', '/etc/passwd.link')
with open('/srv/a', 'w') as f:
    f.write('one')
os.link('/srv/a', '/srv/b')
with open('/srv/b', 'a') as f:
    f.write(' two')
os.unlink('/srv/a')
os.symlink('../../etc/hostname', '/usr/share/hostname-link')
os.rename('/etc/issue', '/usr/share/issue.moved')
os.utime('/etc/skel', (1200000000, 1200000000))
PY
# a build with the compiler just installed (no libc headers: gcc comes
# without its recommends), a virtual environment, the library cache and an
# alternative
mkdir -p /srv/build
cd /srv/build
printf 'int add(int a, int b) { return a + b; }\n' > add.c
printf 'int add(int, int);\nint twice(int a) { return add(a, a); }\n' > twice.c
printf 'libt.a: add.o twice.o\n\tar rcs $@ $^\n%%.o: %%.c\n\tgcc -O2 -c -o $@ $<\n' > Makefile
make -s
make -s -B
rm add.o
cd /
python3 -m venv --without-pip /opt/venv
/opt/venv/bin/python -c 'import sys; print(sys.prefix)' > /opt/venv/prefix
ldconfig
update-alternatives --quiet --install /usr/bin/editor editor /bin/cat 10
EOF
}

make_layers() {
        local root=$WORK/rootfs
        if [ ! -e "$root/.complete" ]; then
                rm -rf "$root"
                echo "debootstrap into $root ..."
                debootstrap --variant=minbase bookworm "$root" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 ||
                        die "debootstrap failed: see $WORK/debootstrap.log"
                mount --bind /proc "$root/proc" || die "cannot bind /proc"
                chroot "$root" sh -c "apt-get update -q && apt-get install -y -q --download-only \
                        --no-install-recommends $PACKAGES && cd /var/cache/apt/archives &&
                        apt-get download -q $REINSTALL" > "$WORK/download.log" 2>&1
                local rc=$?
                umount "$root/proc"
                [ $rc = 0 ] || die "apt could not download $PACKAGES $REINSTALL: see $WORK/download.log"
                touch "$root/.complete"
        fi
        if [ ! -e "$WORK/l1/.complete" ]; then
                rm -rf "$WORK/l0" "$WORK/l1"
                cp -a "$root" "$WORK/l0" && mkdir -p "$WORK/l1/usr" &&
                        mv "$WORK/l0/usr/share" "$WORK/l1/usr/share" && mkdir "$WORK/l0/usr/share" ||
                        die "cannot cut $root into layers"
                rm -f "$WORK/l0/.complete"
                touch "$WORK/l1/.complete"
        fi
}

mount_system() {        # SYSTEM UPPER WORKDIR MNT
        local lowers=$WORK/l1:$WORK/l0
        local opts="lowerdir=$lowers,upperdir=$2,workdir=$3"
        case $1 in
        overlay) mount -t overlay overlay -o "$opts" "$4" ;;
        unionfuse) "$UF" -o "$opts" "$4" ;;
        fuse-overlayfs) fuse-overlayfs -o "$opts" "$4" 2>/dev/null ;;
        esac
}

# One line per entry below DIR, sorted: path, type, mode, owner, size, link
# count of a file (not of a whiteout: how many names share one is overlayfs'
# business), mtime (to the nanosecond if older than SINCE, when the run began:
# a lower file's, kept by copy-up, or one set by touch; "new" otherwise),
# md5, link target, device numbers, xattrs (in an upper layer, not
# overlayfs' and fuse-overlayfs' own bookkeeping: origin, impure, uuid). One
# find, md5sum and getfattr pass each, joined by path.
listing() {             # DIR SINCE [upper]
        local since=$2 upper=${3:-}
        (
                cd "$1" || exit 1
                {
                        find . -mindepth 1 -printf 'E\t%P\t%y\t%m\t%U:%G\t%s\t%l\t%T@\t%n\n'
                        find . -type f -printf '%P\0' | xargs -0 -r md5sum |
                                sed 's/^\([0-9a-f]\{12\}\)[0-9a-f]*  /S\t\1\t/'
                        find . \( -type c -o -type b \) -printf '%P\0' | xargs -0 -r stat --printf 'D\t%t:%T\t%n\n'
                        getfattr -R -h -d -m - . 2>/dev/null |
                                awk '/^# file: / { f = substr($0, 9); next } NF { print "X\t" f "\t" $0 }'
                } | awk -F'\t' -v upper="$upper" -v since="$since" '
                        $1 == "S" { sum[$3] = $2; next }
                        $1 == "D" { dev[$3] = $2; next }
                        $1 == "X" {
                                if (upper && $3 ~ /^(trusted|user)\.(overlay|fuseoverlayfs)\.(origin|impure|uuid)=/) next
                                xattrs[$2] = xattrs[$2] " " $3; next
                        }
                        $1 == "E" {
                                n++; path[n] = $2; type[n] = $3; link[n] = $7
                                rest[n] = $4 " " $5 " " ($3 == "d" ? "" : $6) ($3 == "f" ? " links=" $9 : "") " mtime=" ($8 < since ? $8 : "new")
                        }
                        END {
                                for (i = 1; i <= n; i++) {
                                        p = path[i]; extra = ""
                                        if (type[i] == "f") extra = sum[p]
                                        else if (type[i] == "l") extra = "-> " link[i]
                                        else if (p in dev) extra = dev[p]
                                        print p, type[i], rest[i], extra xattrs[p]
                                }
                        }' | LC_ALL=C sort
        )
}

run_system() {          # SYSTEM
        local s=$1 r=$WORK/run-$1 rc start end since
        umount -R "$r/m" 2>/dev/null
        since=$(date +%s.%N)
        rm -rf "$r" && mkdir -p "$r/upper" "$r/work" "$r/m"
        mount_system "$s" "$r/upper" "$r/work" "$r/m" || { echo "$s: mount failed"; return 1; }
        mount --bind /proc "$r/m/proc" && mount --bind /dev "$r/m/dev"
        start=$(date +%s.%N)
        scenario | chroot "$r/m" /bin/bash > "$r/scenario.out" 2>&1
        rc=$?
        end=$(date +%s.%N)
        umount "$r/m/proc" "$r/m/dev"
        listing "$r/m" "$since" | grep -Ev "$VOLATILE" > "$r/merged.txt"
        umount "$r/m" || umount -l "$r/m"
        listing "$r/upper" "$since" upper | grep -Ev "$VOLATILE" > "$r/upper.txt"
        TIME[$s]=$(echo "$end - $start" | bc)
        [ $rc = 0 ] || { echo "$s: the scenario failed (rc $rc): $(tail -3 "$r/scenario.out" | tr '\n' ' ')"; return 1; }
}

compare() {             # SYSTEM WHAT
        local d
        d=$(diff "$WORK/run-overlay/$2.txt" "$WORK/run-$1/$2.txt")
        if [ -z "$d" ]; then
                echo "  $2: same as kernel overlayfs'"
        else
                echo "  $2: $(echo "$d" | grep -c '^[<>]') lines differ (< kernel overlayfs, > $1):"
                echo "$d" | grep '^[<>]' | head -"${SHOW:-12}" | sed 's/^/    /'
        fi
}

make_layers
declare -A TIME
systems="overlay unionfuse"
command -v fuse-overlayfs >/dev/null && systems="$systems fuse-overlayfs"
for s in $systems; do
        run_system "$s" || { [ "$s" = overlay ] && die "the scenario must pass on kernel overlayfs"; }
done
for s in $systems; do
        [ -n "${TIME[$s]:-}" ] || continue
        echo "$s: scenario $(printf '%.1f' "${TIME[$s]}") s (x$(echo "scale=2; ${TIME[$s]} / ${TIME[overlay]}" | bc) of kernel overlayfs)"
        [ "$s" = overlay ] && continue
        compare "$s" merged
        compare "$s" upper
done
