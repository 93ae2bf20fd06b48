/* unionfuse: the command. Dispatches to mount, umount, or the overlayfs
 * form container tools call as a mount program. */
#include "cmdline.h"
#include "commit.h"
#include "daemon.h"
#include "explain_cmd.h"
#include "import.h"
#include "layers_cmd.h"
#include "requests_cmd.h"
#include "run.h"

#include <stdio.h>
#include <string.h>

#ifndef UNIONFUSE_VERSION
#define UNIONFUSE_VERSION "0.0.0"
#endif

static const char usage[] =
"Usage:\n"
"  unionfuse mount [--upper DIR [--work DIR]] [--init DIR] [-o OPT,...] [-f] [-d]\n"
"                  LAYER... MOUNTPOINT\n"
"  unionfuse -o lowerdir=TOP:...:BASE[,upperdir=DIR,workdir=DIR][,OPT...] [SOURCE] MOUNTPOINT\n"
"  unionfuse umount MOUNTPOINT\n"
"  unionfuse run [--upper DIR] [--hostname NAME] [-o OPT,...] LAYER... -- COMMAND [ARG...]\n"
"  unionfuse layers MOUNTPOINT [--json]\n"
"  unionfuse explain PATH [--json]\n"
"  unionfuse requests MOUNTPOINT [--json] [-- COMMAND [ARG...]]\n"
"  unionfuse import [--whiteout=aufs|overlay] IMAGE[:TAG] DESTDIR\n"
"  unionfuse commit UPPERDIR -o LAYER.tar[.gz] [--image OCIDIR[:BASETAG] --tag TAG]\n"
"  unionfuse --help | --version\n"
"\n"
"Stack read-only LAYERs (listed base first, as in an OCI manifest) into one tree at\n"
"MOUNTPOINT, in user space through FUSE. With --upper, changes go to that directory\n"
"in kernel overlayfs format: copy-up on first write, whiteouts for deletions, opaque\n"
"directories. Without it the mount is read-only (EROFS on every write).\n"
"The command returns once the mount is live; the daemon serves it in the background.\n"
"\n"
"Options:\n"
"  --upper DIR    writable layer (created if missing)\n"
"  --work DIR     scratch for atomic changes, on the same filesystem as the upper\n"
"                 layer; default: UPPER.work beside it (created if missing)\n"
"  --init DIR     read-only layer between the image and the upper layer\n"
"                 (per-container /etc/hosts, /etc/hostname, /etc/resolv.conf)\n"
"  --hostname NAME, --hosts FILE, --resolv FILE\n"
"                 build an init layer in WORK/init (rebuilt at each mount) with\n"
"                 /etc/hostname, /etc/hosts (FILE, or localhost and NAME) and\n"
"                 /etc/resolv.conf (FILE, or the host's); needs --upper\n"
"  -f             stay in the foreground\n"
"  -d             log every FUSE request to stderr (implies -f)\n"
"  --trace[=FILE] tell each union decision as it happens, one line each, to FILE\n"
"                 or to this terminal: which layer answers a lookup, each copy-up,\n"
"                 each whiteout, each opaque directory\n"
"  -o OPT,...     mount options:\n"
"       lowerdir=TOP:...:BASE   layers, top first (overlayfs order)\n"
"       upperdir=DIR, workdir=DIR\n"
"       whiteout=overlay|aufs   whiteouts written as char device 0/0 (default) or\n"
"                               as .wh.NAME files (OCI layer form)\n"
"       timeout=SECONDS         kernel cache lifetime of names and attributes\n"
"                               (default 86400: every change goes through the mount)\n"
"       nonempty                allow a mountpoint that is not empty\n"
"       evict_after=N           free the listings of directories the kernel has\n"
"                               forgotten once N entries may go (default 1024)\n"
"       copyup_on_open          copy a lower file up when it is opened for writing\n"
"                               (as overlayfs), not at its first change; costs a\n"
"                               daemon round trip per open and per close\n"
"       full_listings           every listing gives the kernel its files' attributes\n"
"                               (default: once a file of a listing is looked up);\n"
"                               for walks whose files are then used by path, as in\n"
"                               find | xargs cat\n"
"       metacopy[=on|off]       chmod, chown, touch or an xattr change of a lower\n"
"                               file copies its metadata only, its data at its\n"
"                               first change (overlayfs' metacopy=on)\n"
"       uidmapping=A:B:N[:A:B:N...], gidmapping=...\n"
"                               the id A+k stored in a layer is shown as B+k, and\n"
"                               B+k given by a caller is stored as A+k; ids in no\n"
"                               range are shown as nobody (as fuse-overlayfs)\n"
"       squash_to_root, squash_to_uid=ID, squash_to_gid=ID\n"
"                               show every entry owned by root, or by ID\n"
"       ro, rw, nosuid, nodev, noexec, noatime, allow_other, ...  kernel mount flags\n"
"       volatile                copy-up does not wait for the data it copied to reach\n"
"                               the disk (as overlayfs' volatile): faster, but after\n"
"                               a power loss a copied-up file may be empty or partial\n"
"     Empty items and a trailing comma are ignored; unknown options are warned\n"
"     about and ignored.\n"
"\n"
"Owners: an owner the daemon may not set (an ordinary user copying up a root-owned\n"
"file) is kept in the user.containers.override_stat xattr and shown by stat. In a\n"
"user namespace that cannot name some owners (unshare -r), those owners are shown\n"
"as the namespace's root, so its root can change the files.\n"
"\n"
"Layers are read in every whiteout format: char device 0/0, overlay.whiteout\n"
"xattr files, .wh.NAME files; opaque directories by trusted/user.overlay.opaque=y\n"
"or a .wh..wh..opq file.\n"
"\n"
"run: run COMMAND inside the layers, as a container, without root: new user,\n"
"mount, PID, UTS and IPC namespaces; the union mounted with its own /proc, a\n"
"minimal /dev (null, zero, full, random, urandom, tty from the host) and an init\n"
"layer (/etc/hostname, /etc/hosts, /etc/resolv.conf; hostname 'unionfuse' unless\n"
"--hostname); then pivot_root into it. Without --upper, changes go to a\n"
"throwaway layer. Exits with COMMAND's status (125: could not set up) and leaves\n"
"nothing mounted.\n"
"\n"
"import: unpack an OCI image layout (DIR, or DIR:TAG to choose by\n"
"org.opencontainers.image.ref.name) or a docker-archive tarball (docker save)\n"
"into DESTDIR/NNN-DIGEST, one directory per layer, base first. Every blob is\n"
"checked against its digest first; names with '..', absolute names, paths through\n"
"symlinks and names over 255 bytes are refused. Whiteouts stay .wh. files\n"
"(unionfuse reads them) unless --whiteout=overlay. Prints the mount command.\n"
"\n"
"commit: write UPPERDIR as an OCI layer (.wh. whiteouts, .wh..wh..opq for opaque\n"
"directories, overlay xattrs left out; the same upper layer always gives the same\n"
"bytes) and print its diffID and digest. With --image, add it to the OCI layout\n"
"as a new image tagged TAG (built on BASETAG, else on TAG, else the only image).\n"
"\n"
"layers: the stack of a running mount, top first: each layer's role, path and\n"
"number of entries (not counted past 10000), the work directory, the options.\n"
"\n"
"explain: for PATH inside a running mount (a final symlink is not followed),\n"
"what each layer holds there (nothing, a file, a directory, a whiteout and its\n"
"format, an opaque marker, a redirect), which layer wins and why, whether it\n"
"was copied up, and the daemon's own answer (its cache included).\n"
"\n"
"requests: how many requests of each kind (LOOKUP, GETATTR, READ...) the kernel\n"
"has sent the daemon since the mount; with -- COMMAND, those sent while COMMAND\n"
"ran, told on stderr after it as time(1) does, exiting with COMMAND's status\n"
"(125: no census to read, 126/127: COMMAND could not be run).\n"
"What the kernel answers from its caches never reaches the daemon: a second\n"
"read of a file usually costs none. Other processes' requests meanwhile count.\n"
"\n"
"Examples:\n"
"  unionfuse mount base/ app/ --upper rw/ /mnt/root\n"
"  unionfuse -o lowerdir=app:base,upperdir=rw,workdir=work /mnt/root\n"
"  unionfuse umount /mnt/root\n"
"  unionfuse import oci-dir:latest layers/\n"
"  unionfuse commit rw/ -o change.tar.gz --image oci-dir --tag v2\n"
"\n"
"Exit status: 0 once mounted; 1 on any error, with one line naming the path and\n"
"the cause; 2 on a usage error.\n";

int main(int argc, char **argv)
{
	struct mount_plan plan;
	int ret;

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("unionfuse %s\n", UNIONFUSE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "umount") == 0) {
		if (argc != 3) {
			fputs("unionfuse: umount: needs exactly one MOUNTPOINT\n", stderr);
			return 2;
		}
		return daemon_umount(argv[2]);
	}
	if (strcmp(argv[1], "layers") == 0)
		return layers_main(argc - 2, argv + 2);
	if (strcmp(argv[1], "explain") == 0)
		return explain_main(argc - 2, argv + 2);
	if (strcmp(argv[1], "requests") == 0)
		return requests_main(argc - 2, argv + 2);
	if (strcmp(argv[1], "import") == 0)
		return import_main(argc - 2, argv + 2);
	if (strcmp(argv[1], "commit") == 0)
		return commit_main(argc - 2, argv + 2);
	if (strcmp(argv[1], "run") == 0)
		return run_main(argc - 2, argv + 2);
	if (strcmp(argv[1], "mount") == 0)
		ret = cmdline_parse_mount(argc - 2, argv + 2, &plan);
	else
		ret = cmdline_parse_overlay_form(argc - 1, argv + 1, &plan);
	if (ret) {
		cmdline_free(&plan);
		return 2;
	}
	ret = daemon_mount(&plan);
	cmdline_free(&plan);
	return ret;
}
