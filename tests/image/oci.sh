# oci.sh: building small OCI images in a test, with nothing but coreutils
# and bsdtar, so a test shows its whole image. Sourced after ../e2e/lib.sh.

sha() { sha256sum "$1" | cut -d' ' -f1; }
fsize() { stat -c %s "$1"; }

# The sha256 of a layer's uncompressed tar (its diff ID).
uncompressed_sha() {    # FILE
        case $1 in
        *.gz) gzip -dc "$1" ;;
        *.zst) zstd -qdc "$1" ;;
        *) cat "$1" ;;
        esac | sha256sum | cut -d' ' -f1
}

# A layer tar of the directory DIR, entries in sorted order, numeric owners,
# xattrs kept. FILE's suffix picks the compression (.tar, .tar.gz, .tar.zst).
layer_tar() {   # DIR FILE
        local dir=$1 out=$2 filter=()
        case $out in
        *.gz) filter=(-z) ;;
        *.zst) filter=(--zstd) ;;
        esac
        (cd "$dir" && find . -mindepth 1 | LC_ALL=C sort > "$out.list" &&
                bsdtar -c --format pax --numeric-owner --xattrs "${filter[@]}" -n -f "$out" -T "$out.list")
        rm -f "$out.list"
}

# A tar whose entries are given as mtree lines (names as they are, "../"
# and absolute ones included): what a hostile image would carry.
mtree_tar() {   # FILE < MTREE-LINES
        { echo "#mtree"; cat; } > "$1.mtree"
        bsdtar -c -P --format pax -f "$1" "@$1.mtree"
        rm -f "$1.mtree"
}

oci_blob() {    # LAYOUT FILE : stores FILE as a blob, prints its digest hex
        local hex
        hex=$(sha "$2")
        mkdir -p "$1/blobs/sha256"
        cp "$2" "$1/blobs/sha256/$hex"
        echo "$hex"
}

# Adds an image made of LAYER files (base first) to the OCI layout DIR,
# tagged TAG (created if missing). Prints the manifest digest. $DIFF_IDS,
# when set, replaces the config's diff_ids (a lying config).
oci_add_image() {       # DIR TAG LAYER...
        local dir=$1 tag=$2 l hex mt ids="" descs="" cfg man cfghex manhex
        shift 2
        mkdir -p "$dir/blobs/sha256"
        echo '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
        for l in "$@"; do
                hex=$(oci_blob "$dir" "$l")
                case $l in
                *.gz) mt=application/vnd.oci.image.layer.v1.tar+gzip ;;
                *.zst) mt=application/vnd.oci.image.layer.v1.tar+zstd ;;
                *) mt=application/vnd.oci.image.layer.v1.tar ;;
                esac
                ids=$ids${ids:+,}\"sha256:$(uncompressed_sha "$l")\"
                descs=$descs${descs:+,}"{\"mediaType\":\"$mt\",\"digest\":\"sha256:$hex\",\"size\":$(fsize "$l")}"
        done
        ids=${DIFF_IDS:-$ids}
        cfg=$(mktemp)
        printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[]}' "$ids" > "$cfg"
        cfghex=$(oci_blob "$dir" "$cfg")
        man=$(mktemp)
        printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
                "$cfghex" "$(fsize "$cfg")" "$descs" > "$man"
        manhex=$(oci_blob "$dir" "$man")
        printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}\n' \
                "$manhex" "$(fsize "$man")" "$tag" >> "$dir/.manifests"
        printf '{"schemaVersion":2,"manifests":[%s]}' "$(paste -sd, "$dir/.manifests")" > "$dir/index.json"
        rm -f "$cfg" "$man"
        echo "sha256:$manhex"
}

# A docker-archive (docker save) holding one image tagged REPOTAG. As
# docker writes it: the layer as <sha256>.tar, and ID/layer.tar a symlink
# to it, which manifest.json names.
docker_archive() {      # FILE REPOTAG LAYER...
        local out=$1 tag=$2 stage l i=0 ids="" paths="" cfghex hex
        shift 2
        stage=$(mktemp -d)
        for l in "$@"; do
                mkdir -p "$stage/layer$i"
                hex=$(sha "$l")
                cp "$l" "$stage/$hex.tar"
                ln -s "../$hex.tar" "$stage/layer$i/layer.tar"
                ids=$ids${ids:+,}\"sha256:$(uncompressed_sha "$l")\"
                paths=$paths${paths:+,}\"layer$i/layer.tar\"
                i=$((i + 1))
        done
        printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%s]}}' "$ids" > "$stage/cfg"
        cfghex=$(sha "$stage/cfg")
        mv "$stage/cfg" "$stage/$cfghex.json"
        printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' "$cfghex" "$tag" "$paths" > "$stage/manifest.json"
        (cd "$stage" && bsdtar -cf "$out" ./*)
        rm -rf "$stage"
}

# The layer directories an import printed, as words (base first).
mount_layers() {        # IMPORT-OUTPUT
        echo "$1" | sed -n 's/^unionfuse mount \(.*\) MOUNTPOINT$/\1/p'
}

# Applies layer directories (base first, .wh. markers in them) by hand
# into DEST: what the merged view must be.
apply_layers() {        # DEST LAYER...
        local dest=$1 l f d
        shift
        mkdir -p "$dest"
        for l in "$@"; do
                while IFS= read -r -d '' f; do       # opaque dirs: empty them first
                        d=$(dirname "${f#$l/}")
                        find "$dest/$d" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
                done < <(find "$l" -name .wh..wh..opq -print0)
                while IFS= read -r -d '' f; do
                        d=$(dirname "${f#$l/}")
                        f=$(basename "$f")
                        rm -rf "${dest:?}/$d/${f#.wh.}"
                done < <(find "$l" -name '.wh.*' ! -name .wh..wh..opq -print0)
                (cd "$l" && find . -mindepth 1 ! -name '.wh.*' -print0 | LC_ALL=C sort -z |
                        bsdtar -c --null -n -T - --format pax --xattrs -f - ) |
                        bsdtar -x -C "$dest" --xattrs --numeric-owner -p -f -
        done
}
