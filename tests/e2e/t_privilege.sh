#!/bin/bash
# Privilege through the mount, with the kernel as the reference: the same
# layers as a plain directory, under kernel overlayfs and under unionfuse,
# the same operations by the ordinary user unionfuse-test (and root), and
# the same results. Set-id bits dropped on write, truncate and chown;
# default_permissions (modes, owners, sticky directories, protected hard
# links, ACLs, trusted xattrs); and who may enter a mount an ordinary user
# made, with and without allow_root/allow_other.
. "$(dirname "$0")/lib.sh"

UF=$(realpath "$UF") HELPERS=$(realpath "$HELPERS")
[ -x "$HELPERS/probe" ] || { echo "Bail out! helper $HELPERS/probe missing"; exit 1; }
probe() { "$HELPERS/probe" "$@"; }

TEST_USER=unionfuse-test
OTHER_UID=4243          # a user with no account: another tenant

# The user, and copies of the binary and helpers it can reach (the build
# tree may lie below /root, and mktemp made the workspace 0700).
ensure_user() {
        id "$TEST_USER" >/dev/null 2>&1 || useradd -M -d /nonexistent -s /bin/sh "$TEST_USER" ||
                fail "cannot create the user $TEST_USER"
        command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
        chmod 0666 /dev/fuse
        chmod 0755 "$WS"
        BIN=$WS/bin
        if [ ! -x "$BIN/probe" ]; then
                mkdir -p "$BIN.tmp"
                install -m 0755 "$UF" "$BIN.tmp/unionfuse"
                install -m 0755 "$HELPERS/probe" "$HELPERS/sysop" "$BIN.tmp/"
                mv "$BIN.tmp" "$BIN" 2>/dev/null || rm -rf "$BIN.tmp"
        fi
        USER_UID=$(id -u "$TEST_USER")
        USER_GID=$(id -g "$TEST_USER")
        chmod 0755 "$T"
}

as_user() {     # CMD...
        setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups -- env PATH="$BIN:$PATH" "$@"
}

as_other() {    # CMD...
        setpriv --reuid=$OTHER_UID --regid=$OTHER_UID --clear-groups -- env PATH="$BIN:$PATH" "$@"
}

# The three places the same tree is seen: $T/native (a plain directory
# built like the lower layer), $T/k (kernel overlayfs) and $T/m (unionfuse),
# both over $T/base. FIXTURE builds a tree in the directory it is given.
three_roots() {         # FIXTURE
        mkdir -p "$T/base" "$T/native"
        "$1" "$T/base"
        "$1" "$T/native"
        uf_mount "$T/m" "$(mkd upper)" "$T/base"
        kov_mount "$T/k" "$(mkd kupper)" "$T/kwork" "$T/base"
}

# Runs each line "LABEL: SHELL COMMAND" of OPS as WHO (as_user, as_other or
# env for root) in ROOT; prints "LABEL: what it printed".
run_ops() {     # WHO ROOT OPS
        local who=$1 root=$2 line
        while IFS= read -r line; do
                line=${line#"${line%%[![:space:]]*}"}
                [ -n "$line" ] || continue
                printf '%s: %s\n' "${line%%:*}" \
                        "$(cd "$root" && $who sh -c "${line#*:}" 2>&1 | sed 's/^sh: [0-9]*: //' | tr '\n' ' ')"
        done <<< "$3"
}

# What the ops left: mode, owner and size of every entry.
modes() {       # ROOT
        (cd "$1" && { find . -mindepth 1 -type f -printf '%P %m %U:%G %s\n'
                      find . -mindepth 1 ! -type f -printf '%P %y %m %U:%G\n'; } | LC_ALL=C sort)
}

# The same OPS as WHO in the three roots: unionfuse must say and leave what
# the plain directory does. Kernel overlayfs is the second opinion: where it
# disagrees with the plain directory, that is noted, not failed.
expect_like_the_kernel() {      # WHAT WHO OPS
        local what=$1 who=$2 ops=$3 r d
        for r in native k m; do
                run_ops "$who" "$T/$r" "$ops" > "$T/ops.$r"
                modes "$T/$r" > "$T/modes.$r"
        done
        d=$(diff "$T/ops.native" "$T/ops.k"; diff "$T/modes.native" "$T/modes.k") ||
                note "kernel overlayfs differs from a plain directory: $(echo "$d" | grep '^[<>]' | head -4 | tr '\n' ';')"
        d=$(diff "$T/ops.native" "$T/ops.m" | grep '^[<>]' | head -6 | tr '\n' ';') || true
        [ -z "$d" ] || fail "$what: results differ from a plain directory (< native, > unionfuse): $d"
        d=$(diff "$T/modes.native" "$T/modes.m" | grep '^[<>]' | head -6 | tr '\n' ';') || true
        [ -z "$d" ] || fail "$what: modes left differ from a plain directory (< native, > unionfuse): $d"
}

# ------------------------------------------------------------------ set-id bits

setid_files() {         # DIR
        local f
        for f in append write trunc fallocate copyrange sgid6 both; do
                printf 'data\n' > "$1/$f"
        done
        chmod 4777 "$1/append" "$1/write" "$1/trunc" "$1/fallocate" "$1/copyrange"
        chmod 2777 "$1/sgid6"
        chmod 6777 "$1/both"
}

test_write_truncate_fallocate_by_a_user_drop_setid_bits_like_the_kernel() {
        ensure_user
        three_roots setid_files
        expect_like_the_kernel "writes by $TEST_USER to lower set-id files" as_user '
                append: echo more >> append
                write: printf ab | dd of=write bs=1 seek=2 conv=notrunc status=none
                truncate: truncate -s 2 trunc
                fallocate: fallocate -l 65536 fallocate
                copy-range: sysop copy-range sgid6 copyrange
                sgid: echo more >> sgid6
                both: echo more >> both'
}

# The second write goes to the file already in the upper layer.
test_setid_bits_of_an_upper_file_drop_on_a_user_write_like_the_kernel() {
        ensure_user
        three_roots setid_files
        local r
        for r in native k m; do
                (cd "$T/$r" && chmod 4777 append trunc && chmod 6777 both)
        done
        expect_eq "copied up by root's chmod" 4777 "$(stat -c %a "$T/upper/append")"
        expect_like_the_kernel "writes by $TEST_USER to upper set-id files" as_user '
                append: echo more >> append
                truncate: truncate -s 1 trunc
                both: echo more >> both'
}

test_open_with_o_trunc_by_a_user_drops_setid_bits_like_the_kernel() {
        ensure_user
        three_roots setid_files
        expect_like_the_kernel "O_TRUNC opens by $TEST_USER" as_user '
                suid: probe open-trunc trunc
                sgid: probe open-trunc sgid6
                both: : > both'
}

# Since Linux 6.2 a write by a user outside the file's group drops set-group-ID
# even without group execute (setattr_should_drop_sgid).
sgid_noexec_file() {    # DIR
        printf 'data\n' > "$1/sgid"
        chmod 2767 "$1/sgid"
}

test_write_by_a_user_outside_the_group_drops_setgid_without_group_exec_like_the_kernel() {
        ensure_user
        three_roots sgid_noexec_file
        expect_like_the_kernel "a write by $TEST_USER to a 2767 root:root file" as_user '
                append: echo more >> sgid'
}

test_root_keeps_setid_bits_on_write_and_loses_them_on_chown_like_the_kernel() {
        ensure_user
        three_roots setid_files
        mkdir -m 6777 "$T/native/sdir"
        mkdir "$T/m/sdir" "$T/k/sdir"
        chmod 6777 "$T/m/sdir" "$T/k/sdir"
        expect_like_the_kernel "root's writes and chowns" env '
                append: echo more >> append
                truncate: truncate -s 1 trunc
                chown: chown 5:5 write
                chgrp: chgrp 7 both
                chown-dir: chown 5:5 sdir'
}

# Root without CAP_FSETID loses set-id bits on a write, as any user does
# (should_remove_suid asks for the capability, not for uid 0).
as_root_without_fsetid() {      # CMD...
        setpriv --inh-caps=-fsetid --bounding-set=-fsetid -- "$@"
}

test_writes_by_root_without_cap_fsetid_drop_setid_bits_like_the_kernel() {
        ensure_user
        three_roots setid_files
        expect_eq "CAP_FSETID gone" 0 \
                "$(as_root_without_fsetid sh -c 'printf %d $((0x$(sed -n "s/^CapEff:\t//p" /proc/self/status) >> 4 & 1))')"
        expect_like_the_kernel "writes by root without CAP_FSETID" as_root_without_fsetid '
                append: echo more >> append
                write: printf ab | dd of=write bs=1 seek=2 conv=notrunc status=none
                truncate: truncate -s 2 trunc
                fallocate: fallocate -l 65536 fallocate
                copy-range: sysop copy-range sgid6 copyrange
                both: echo more >> both'
}

# Full capabilities in a user namespace of one's own do not reach a file
# whose owner that namespace cannot name (capable_wrt_inode_uidgid).
as_user_in_own_userns() {       # CMD...
        as_user unshare -Ur "$@"
}

test_writes_by_a_user_namespace_root_drop_setid_bits_of_unmapped_files_like_the_kernel() {
        ensure_user
        as_user unshare -Ur true 2>/dev/null || skip "no unprivileged user namespaces"
        three_roots setid_files
        expect_like_the_kernel "writes by root of $TEST_USER's user namespace" as_user_in_own_userns '
                append: echo more >> append
                truncate: truncate -s 2 trunc
                both: echo more >> both'
}

setgid_dir() {          # DIR
        mkdir -m 2777 "$1/sg"
        chown 0:0 "$1/sg"
        printf 'data\n' > "$1/mine"
        chown "$USER_UID:0" "$1/mine"
        chmod 0755 "$1/mine"
}

test_new_entries_in_a_setgid_dir_and_chmod_g_s_by_a_non_member_like_the_kernel() {
        ensure_user
        three_roots setgid_dir
        expect_like_the_kernel "set-group-ID rules for $TEST_USER" as_user '
                touch: umask 022; touch sg/file
                mkdir: umask 022; mkdir sg/dir
                mkfifo: umask 022; mkfifo sg/fifo
                install: umask 022; install -m 2755 /dev/null sg/installed
                chmod-g+s: chmod g+s mine; stat -c %a mine
                chmod-u+s: chmod u+s mine; stat -c %a mine'
}

# File capabilities go on a write, a truncation and a chown, whoever asks
# (the kernel's killpriv), in a lower file being copied up or an upper one.
caps_files() {          # DIR
        local f
        for f in append trunc chown upper; do
                printf 'data\n' > "$1/$f"
                setcap cap_net_raw+ep "$1/$f" || return 1
        done
}

caps_left() {           # ROOT
        (cd "$1" && for f in append trunc chown upper keep; do
                printf '%s: %s\n' "$f" "$(getcap "$f" | sed 's/^[^ ]* //')"
        done)
}

test_writes_truncations_and_chowns_drop_file_capabilities_like_the_kernel() {
        command -v setcap >/dev/null || skip "setcap (libcap2-bin) is missing"
        caps_files "$T" 2>/dev/null || skip "cannot set file capabilities here"
        rm -f "$T/append" "$T/trunc" "$T/chown" "$T/upper"
        three_roots caps_files
        local r
        for r in native k m; do
                (cd "$T/$r" && printf 'keep\n' > keep && setcap cap_net_raw+ep keep && chmod 0644 upper &&
                        echo more >> append && truncate -s 2 trunc && chown 5 chown && echo more >> upper)
                caps_left "$T/$r" > "$T/caps.$r"
        done
        expect_eq "capabilities kept by kernel overlayfs" "$(cat "$T/caps.native")" "$(cat "$T/caps.k")"
        expect_eq "capabilities kept by unionfuse" "$(cat "$T/caps.native")" "$(cat "$T/caps.m")"
        expect_eq "the untouched file keeps its capability" "keep: cap_net_raw=ep" "$(grep keep "$T/caps.m")"
}

# A setuid-root binary, and one with file capabilities, in an image layer:
# run by the user through the mount they must not raise its privilege
# (FUSE mounts are nosuid unless asked otherwise).
test_setuid_and_capability_binaries_in_a_layer_do_not_elevate_by_default() {
        ensure_user
        command -v busybox >/dev/null || skip "no busybox"
        local base
        base=$(mkd base)
        # id reports its effective uid as it is (busybox would drop it); the
        # capability one is busybox, whose awk reads its own status
        mkdir "$base/caps"
        cp "$(command -v id)" "$base/id"
        chmod 4755 "$base/id"
        cp "$(command -v busybox)" "$base/caps/busybox"
        setcap cap_dac_override,cap_setuid+ep "$base/caps/busybox" || skip "cannot set file capabilities"
        uf_mount "$T/m" "$(mkd upper)" "$base"
        expect_match "mount options" '(^|,)nosuid(,|$)' "$(findmnt -no OPTIONS "$T/m")"
        expect_eq "stat of the setuid binary" "4755 root" "$(stat -c '%a %U' "$T/m/id")"
        expect_eq "euid of the setuid binary" "$USER_UID" "$(as_user "$T/m/id" -u)"
        expect_eq "effective capabilities of the capability binary" 0000000000000000 \
                "$(as_user "$T/m/caps/busybox" awk '/^CapEff/ { print $2 }' /proc/self/status)"
}

# ------------------------------------------------------------------ default_permissions

perm_tree() {           # DIR
        local d=$1
        echo secret > "$d/secret" && chmod 0600 "$d/secret"
        echo theirs > "$d/theirs" && chown $OTHER_UID:$OTHER_UID "$d/theirs" && chmod 0600 "$d/theirs"
        echo root > "$d/rootfile" && chmod 0644 "$d/rootfile"
        echo shared > "$d/shared" && chmod 0666 "$d/shared"
        echo mine > "$d/mine" && chown "$USER_UID:$USER_GID" "$d/mine" && chmod 0644 "$d/mine"
        mkdir -m 0755 "$d/rootdir" && echo f > "$d/rootdir/file"
        mkdir -m 1777 "$d/sticky"
        echo t > "$d/sticky/theirs" && chown $OTHER_UID:$OTHER_UID "$d/sticky/theirs" &&
                chmod 0666 "$d/sticky/theirs"
        echo m > "$d/sticky/mine" && chown "$USER_UID:$USER_GID" "$d/sticky/mine"
        mkdir -m 0755 "$d/minedir" && chown "$USER_UID:$USER_GID" "$d/minedir"
        echo r > "$d/minedir/rootfile"
        mkdir -m 0700 "$d/closed" && echo c > "$d/closed/f"
        mkdir -m 0555 "$d/readonly" && chown "$USER_UID:$USER_GID" "$d/readonly"
}

test_default_permissions_refuse_what_the_kernel_refuses() {
        ensure_user
        three_roots perm_tree
        expect_like_the_kernel "$TEST_USER against others' files" as_user '
                read-secret: probe read secret
                read-theirs: probe read theirs
                read-rootfile: probe read rootfile
                append-rootfile: probe append rootfile x
                trunc-rootfile: probe open-trunc rootfile
                truncate-rootfile: sysop truncate rootfile 0
                append-shared: probe append shared x
                chmod-rootfile: probe chmod rootfile 777
                chown-rootfile: probe chown rootfile '"$USER_UID"' '"$USER_GID"'
                give-away-mine: probe chown mine 0 0
                chgrp-mine-to-root: probe chown mine -1 0
                utimes-rootfile: probe utimes rootfile 1000000000
                utimes-shared: probe utimes shared 1000000000
                touch-now-rootfile: probe touch-now rootfile
                touch-now-shared: probe touch-now shared
                setxattr-rootfile: sysop setxattr rootfile user.x 1
                setxattr-mine: sysop setxattr mine user.x 1
                trusted-mine: sysop setxattr mine trusted.x 1
                unlink-in-rootdir: sysop unlink rootdir/file
                create-in-rootdir: sysop create rootdir/new
                mkdir-in-rootdir: sysop mkdir rootdir/new
                rename-in-rootdir: probe rename rootdir/file rootdir/x
                rename-into-rootdir: probe rename mine rootdir/mine
                rmdir-rootdir: sysop rmdir rootdir
                create-at-top: sysop create new
                unlink-theirs-sticky: sysop unlink sticky/theirs
                rename-theirs-sticky: probe rename sticky/theirs sticky/x
                replace-theirs-sticky: probe rename mine sticky/theirs
                unlink-mine-sticky: sysop unlink sticky/mine
                unlink-root-in-mine: sysop unlink minedir/rootfile
                hardlink-theirs: probe link theirs minedir/theirs
                hardlink-secret: probe link secret minedir/secret
                hardlink-shared: probe link shared minedir/shared
                enter-closed: probe read closed/f
                list-closed: ls closed
                create-in-readonly: sysop create readonly/new
                chmod-readonly: probe chmod readonly 755
                create-after-chmod: sysop create readonly/new'
}

# A POSIX ACL that denies one user what the mode bits allow everyone.
acl_file() {            # DIR
        echo secret > "$1/acl"
        chmod 0644 "$1/acl"
        # version 2; user_obj rw-, user:UID ---, group_obj r--, mask r--, other r--
        setfattr -n system.posix_acl_access -v "0x02000000010006000000000002000000$(
                printf '%08x' "$USER_UID" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'
                )04000400ffffffff10000400ffffffff20000400ffffffff" "$1/acl" ||
                skip "no POSIX ACLs on this filesystem"
}

test_posix_acl_denying_a_user_is_enforced_like_the_kernel() {
        ensure_user
        three_roots acl_file
        expect_like_the_kernel "an ACL entry user:$TEST_USER:---" as_user '
                read: probe read acl
                append: probe append acl x'
}

# A directory whose default ACL grants a named user and the group rwx: new
# entries take their modes from it, not from the umask.
default_acl_dir() {     # DIR
        mkdir "$1/shared"
        # version 2; user_obj rwx, user:OTHER_UID rwx, group_obj rwx, mask rwx, other r-x
        setfattr -n system.posix_acl_default -v "0x0200000001000700ffffffff02000700$(
                printf '%08x' "$OTHER_UID" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'
                )04000700ffffffff10000700ffffffff20000500ffffffff" "$1/shared" ||
                skip "no POSIX ACLs on this filesystem"
        echo old > "$1/shared/gone"
}

test_a_default_acl_replaces_the_umask_like_the_kernel() {
        three_roots default_acl_dir
        expect_like_the_kernel "new entries under a default ACL, umask 022" env '
                create: umask 022; touch shared/new && getfattr -e hex -n system.posix_acl_access shared/new | grep =
                mkdir: umask 022; mkdir shared/d && getfattr -e hex -n system.posix_acl_default shared/d | grep =
                nested: umask 077; touch shared/d/f && getfattr -e hex -n system.posix_acl_access shared/d/f | grep =
                mknod: umask 022; mkfifo shared/fifo && stat -c %a shared/fifo
                over-whiteout: umask 022; rm shared/gone && touch shared/gone && getfattr -e hex -n system.posix_acl_access shared/gone | grep =
                no-acl: umask 027; touch plain && mkdir plaind && stat -c %a plain plaind'
}

trusted_xattr_file() {  # DIR
        echo t > "$1/tx"
        setfattr -n trusted.secret -v 1 "$1/tx"
        setfattr -n user.visible -v 1 "$1/tx"
}

# The kernel lists trusted.* names to CAP_SYS_ADMIN only.
test_trusted_xattr_names_are_not_listed_to_a_user_like_the_kernel() {
        ensure_user
        three_roots trusted_xattr_file
        expect_like_the_kernel "listxattr by $TEST_USER" as_user '
                list: probe listxattr tx
                get: sysop getxattr tx trusted.secret'
}

# ------------------------------------------------------------------ allow_other

# A mount of $T/layer on $T/um by the user, through fusermount3.
user_mount() {  # OPTIONS...
        mkdir -p "$T/layer/dir" "$T/um"
        chown "$TEST_USER" "$T"         # for UPPER.work beside the upper layer
        [ -e "$T/layer/f" ] || { echo f > "$T/layer/f"; echo g > "$T/layer/dir/g"; }
        chown "$TEST_USER" "$T/um"
        track_lower "$T/layer"
        track_mount "$T/um"
        as_user unionfuse mount "$@" --upper "$T/up" "$T/layer" "$T/um"
}

test_mount_by_a_user_without_allow_other_shuts_out_root_and_other_users() {
        ensure_user
        mkdir -p "$T/up"
        chown "$TEST_USER" "$T/up"
        user_mount || fail "the user could not mount"
        expect_eq "the user reads" OK "$(as_user probe read "$T/um/f")"
        expect_eq "the user creates" OK "$(as_user sysop create "$T/um/new")"
        expect_eq "root: stat of the mount" EACCES "$(probe stat "$T/um")"
        expect_eq "root: read" EACCES "$(probe read "$T/um/f")"
        expect_eq "root: create" EACCES "$(sysop create "$T/um/new")"
        expect_fails "root: chroot into it" chroot "$T/um" /bin/true
        expect_eq "another user: stat of the mount" EACCES "$(as_other probe stat "$T/um")"
        expect_eq "another user: read" EACCES "$(as_other probe read "$T/um/dir/g")"
        expect_eq "another user: unlink" EACCES "$(as_other sysop unlink "$T/um/f")"
        expect_eq "still there for the user" "dir f new" "$(as_user ls "$T/um" | tr '\n' ' ' | sed 's/ $//')"
        as_user unionfuse umount "$T/um" || fail "the user could not unmount"
}

test_allow_root_or_allow_other_without_user_allow_other_is_refused() {
        ensure_user
        grep -qx 'user_allow_other' /etc/fuse.conf 2>/dev/null && skip "/etc/fuse.conf allows user_allow_other"
        mkdir -p "$T/up"
        chown "$TEST_USER" "$T/up"
        local opt rc
        for opt in allow_root allow_other; do
                rc=0
                user_mount -o "$opt" > "$T/out" 2>&1 || rc=$?
                expect_ne "exit status with -o $opt" 0 "$rc"
                mountpoint -q "$T/um" && fail "mounted with -o $opt"
                expect_match "message with -o $opt" "$T/um" "$(cat "$T/out")"
        done
}

# What fusermount3 allows once /etc/fuse.conf says user_allow_other: in a
# mount namespace of the test's own, with its own fuse.conf, so the host's
# stays as it is. allow_root lets root in and keeps others out; allow_other
# lets everyone in, default_permissions still judging.
test_allow_root_and_allow_other_let_in_whom_they_say() {
        ensure_user
        command -v unshare >/dev/null || skip "no unshare"
        mkdir -p "$T/up" "$T/layer/dir" "$T/um"
        echo f > "$T/layer/f"
        echo g > "$T/layer/dir/g"
        echo secret > "$T/layer/secret"
        chown "$TEST_USER" "$T" "$T/up" "$T/um" "$T/layer/secret"
        chmod 0600 "$T/layer/secret"
        printf 'user_allow_other\n' > "$T/fuse.conf"
        track_lower "$T/layer"
        unshare -m --propagation private bash -c '
                T=$1 BIN=$2 TEST_USER=$3 OTHER=$4
                user() { setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups -- "$@"; }
                other() { setpriv --reuid=$OTHER --regid=$OTHER --clear-groups -- "$@"; }
                mount --bind "$T/fuse.conf" /etc/fuse.conf || exit 3
                for opt in allow_root allow_other; do
                        user "$BIN/unionfuse" mount -o $opt --upper "$T/up" "$T/layer" "$T/um" ||
                                { echo "$opt: mount failed"; continue; }
                        echo "$opt root: $("$BIN/probe" read "$T/um/f")"
                        echo "$opt other: $(other "$BIN/probe" read "$T/um/dir/g")"
                        echo "$opt other secret: $(other "$BIN/probe" read "$T/um/secret")"
                        echo "$opt other unlink: $(other "$BIN/sysop" unlink "$T/um/f")"
                        echo "$opt user: $(user "$BIN/probe" read "$T/um/secret")"
                        user "$BIN/unionfuse" umount "$T/um" || { umount -l "$T/um"; echo "$opt: umount failed"; }
                done
        ' _ "$T" "$BIN" "$TEST_USER" "$OTHER_UID" > "$T/ns.out" 2>&1 || fail "the namespace script failed: $(tail -3 "$T/ns.out")"
        expect_eq "who got in" "allow_root root: OK
allow_root other: EACCES
allow_root other secret: EACCES
allow_root other unlink: EACCES
allow_root user: OK
allow_other root: OK
allow_other other: OK
allow_other other secret: EACCES
allow_other other unlink: EACCES
allow_other user: OK" "$(cat "$T/ns.out")"
}

# A chown the daemon of an ordinary user cannot do is kept in an owner
# override (user.containers.override_stat); like a real chown, it drops
# set-user-ID and, with group execute, set-group-ID.
test_a_chown_kept_in_an_override_drops_setid_bits_like_the_kernel() {
        ensure_user
        command -v unshare >/dev/null || skip "no unshare"
        mkdir -p "$T/up" "$T/layer" "$T/um"
        echo f > "$T/layer/f"
        echo g > "$T/layer/g"
        chown "$TEST_USER" "$T" "$T/up" "$T/um"
        printf 'user_allow_other\n' > "$T/fuse.conf"
        track_lower "$T/layer"
        unshare -m --propagation private bash -c '
                T=$1 BIN=$2 TEST_USER=$3
                user() { setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --init-groups -- "$@"; }
                mount --bind "$T/fuse.conf" /etc/fuse.conf || exit 3
                user "$BIN/unionfuse" mount -o allow_root --upper "$T/up" "$T/layer" "$T/um" || exit 4
                chmod 4755 "$T/um/f" && chown 5:5 "$T/um/f" && stat -c "f %u:%g %a" "$T/um/f"
                chmod 6775 "$T/um/g" && chgrp 7 "$T/um/g" && stat -c "g %u:%g %a" "$T/um/g"
                user "$BIN/unionfuse" umount "$T/um" || umount -l "$T/um"
        ' _ "$T" "$BIN" "$TEST_USER" > "$T/ns.out" 2>&1 || fail "the namespace script failed: $(tail -3 "$T/ns.out")"
        expect_eq "owner and mode after the chowns" "f 5:5 755
g 0:7 775" "$(cat "$T/ns.out")"
        expect_xattr "$T/up/f" user.containers.override_stat "5:5:0755"
}

run_tests
