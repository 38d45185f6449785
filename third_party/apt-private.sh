# shellcheck shell=bash disable=SC2034 # APT_OPTS, APT_PRIVATE_UPDATE_RC: read by the callers
#
# A private apt configuration derived from the system's apt sources, shared by
# third_party/fetch.sh (deb-src: orig tarballs),
# tests/compat/fetch-containerd.sh (deb: binary packages of another suite)
# and tests/vm/fetch-kernel.sh and fetch-arm64.sh (pinned guest kernels, the
# aarch64 board's root).
#
# Sourced. The caller defines `log MSG` and `die MSG`. Nothing about the
# system's apt setup is changed, and no archive address is written anywhere
# but in the private sources file under the caller's (git-ignored) folder.
#
#   apt_private_derive_sources TYPE CODENAME EXTRA [SUITE]
#       Print deb822 stanzas of TYPE (deb or deb-src) derived from the system's
#       apt sources: every enabled `deb` entry whose suite belongs to release
#       CODENAME (CODENAME or CODENAME-*), component main, keeping its URIs and
#       Signed-By. EXTRA (space separated suite names) is added to the entries
#       that carry CODENAME itself.
#       With SUITE: only the entries that carry CODENAME itself are kept, with
#       their suites replaced by SUITE (e.g. trixie, sid: same archive, same
#       keyring).
#
#   apt_private_prepare DIR TYPE EXTRA [SUITE [APT_OPTION...]]
#       Write DIR/etc/private.sources (as above, for the release named by
#       /etc/os-release), make DIR's lists/cache/state folders, set the array
#       APT_OPTS (the -o options that make apt-get/apt-cache use only them,
#       plus APT_OPTION...) and run `apt-get update` with it. Problems of the
#       update are shown and the caller goes on with the indexes it has;
#       APT_PRIVATE_UPDATE_RC holds the update's exit status (1 also when it
#       printed a warning or error).
#
#   apt_private_index_sha PKG VERSION
#       Print the SHA256 the signed index gives PKG=VERSION (nothing when it
#       has no such version).
#
#   apt_private_fetch PKG VERSION SHA256 DEB
#       Make the file DEB package PKG=VERSION with that sha256: kept if it
#       already is, else `apt-get download` into a folder beside DEB,
#       checked and moved there. Returns 1 when the download failed (its
#       output shown); dies on a sha256 that is not SHA256.
#
#   apt_private_kernel ARCH PIN
#       Check the pinned kernel KPKG=KVER (set by the caller from file PIN,
#       with its KSHA) against the index. When the index has no such
#       version: returns 1 if the update failed (offline: the caller may use
#       what it made last), else sets KPKG, KVER and KSHA to the
#       linux-image-6.1.0-N-ARCH that linux-image-ARCH depends on now,
#       warning that PIN wants updating.
#       Dies when the index gives the pinned version another sha256.

APT_OPTS=()
APT_PRIVATE_UPDATE_RC=0

apt_private_derive_sources() {
    local type=$1 codename=$2 extra=$3 only=${4:-} f
    local -a deb822=() oneline=()
    for f in /etc/apt/sources.list.d/*.sources; do [[ -f $f ]] && deb822+=("$f"); done
    [[ -f /etc/apt/sources.list ]] && oneline+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list; do [[ -f $f ]] && oneline+=("$f"); done

    {
        # deb822 files -> records "uris<TAB>suites<TAB>components<TAB>signed-by"
        # (signed-by continuation lines joined with \n, for inline keys)
        if ((${#deb822[@]})); then
            awk '
                function flush() {
                    if (have && tolower(enabled) != "no" && (" " types " ") ~ / deb /)
                        printf "%s\t%s\t%s\t%s\n", uris, suites, comps, signed
                    have = 0; types = uris = suites = comps = signed = enabled = ""; cur = ""
                }
                /^#/ { next }
                /^[ \t]*$/ { flush(); next }
                /^[ \t]/ {
                    if (cur == "signed-by") { line = $0; sub(/^[ \t]/, "", line); signed = signed "\\n" line }
                    else if (cur != "") { line = $0; gsub(/^[ \t]+|[ \t]+$/, "", line); val[cur] = val[cur] " " line
                        if (cur == "types") types = val[cur]; if (cur == "uris") uris = val[cur]
                        if (cur == "suites") suites = val[cur]; if (cur == "components") comps = val[cur] }
                    next
                }
                {
                    have = 1
                    i = index($0, ":"); key = tolower(substr($0, 1, i - 1)); v = substr($0, i + 1)
                    gsub(/^[ \t]+|[ \t]+$/, "", v); cur = key; val[key] = v
                    if (key == "types") types = v; else if (key == "uris") uris = v
                    else if (key == "suites") suites = v; else if (key == "components") comps = v
                    else if (key == "signed-by") signed = v; else if (key == "enabled") enabled = v
                }
                END { flush() }
            ' "${deb822[@]}"
        fi
        # one-line files: deb [opts] uri suite comp...
        if ((${#oneline[@]})); then
            awk '
                { sub(/#.*/, "") }
                $1 != "deb" { next }
                {
                    signed = ""; i = 2
                    if ($2 ~ /^\[/) {
                        opts = ""
                        for (; i <= NF; i++) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } }
                        gsub(/[\[\]]/, "", opts); n = split(opts, o, " ")
                        for (j = 1; j <= n; j++) if (tolower(o[j]) ~ /^signed-by=/) { signed = substr(o[j], 11) }
                    }
                    uri = $i; suite = $(i + 1); comps = ""
                    for (j = i + 2; j <= NF; j++) comps = comps " " $j
                    printf "%s\t%s\t%s\t%s\n", uri, suite, comps, signed
                }
            ' "${oneline[@]}"
        fi
    } | awk -F'\t' -v type="$type" -v codename="$codename" -v extra="$extra" -v only="$only" '
        {
            nc = split($3, c, " "); main = 0
            for (j = 1; j <= nc; j++) if (c[j] == "main") main = 1
            if (!main) next
            ns = split($2, s, " "); keep = ""; base = 0
            for (j = 1; j <= ns; j++) {
                if (s[j] == codename) base = 1
                if (s[j] == codename || index(s[j], codename "-") == 1) keep = keep " " s[j]
            }
            if (keep == "") next
            if (only != "") {
                if (!base) next
                keep = only
            } else if (base && extra != "") keep = keep " " extra
            sub(/^ /, "", keep)
            print "Types: " type
            print "URIs: " $1
            print "Suites: " keep
            print "Components: main"
            if ($4 != "") {
                n = split($4, k, /\\n/)
                print "Signed-By:" (k[1] != "" ? " " k[1] : "")
                for (j = 2; j <= n; j++) print " " k[j]
            }
            print ""
        }
    '
}

apt_private_prepare() {
    local dir=$1 type=$2 extra=$3 only=${4:-} codename
    shift 4 2>/dev/null || shift $#
    command -v apt-get >/dev/null || die "apt-get not found"
    # shellcheck disable=SC1091
    codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
    [[ -n $codename ]] || die "cannot read VERSION_CODENAME from /etc/os-release"

    mkdir -p "$dir"/{etc,lists/partial,cache/archives/partial,state}
    local list=$dir/etc/private.sources
    apt_private_derive_sources "$type" "$codename" "$extra" "$only" >"$list.new"
    [[ -s $list.new ]] || die "no enabled 'deb' entry for suite '$codename' (component main) in the system's apt sources"
    mv "$list.new" "$list"

    APT_OPTS=(
        -o "Dir::Etc::SourceList=$list"
        -o Dir::Etc::SourceParts=/dev/null
        -o Dir::Etc::Preferences=/dev/null
        -o Dir::Etc::PreferencesParts=/dev/null
        -o "Dir::State=$dir/state"
        -o "Dir::State::Lists=$dir/lists"
        -o "Dir::Cache=$dir/cache"
        -o Dir::State::status=/dev/null
        -o Debug::NoLocking=true
        "$@"
    )
    log "apt-get update (private configuration: $list)"
    local rc=0
    apt-get "${APT_OPTS[@]}" -qq update >"$dir/update.log" 2>&1 || rc=$?
    APT_PRIVATE_UPDATE_RC=$rc
    if ((rc)) || grep -q '^[WE]:' "$dir/update.log"; then
        APT_PRIVATE_UPDATE_RC=1
        sed 's/^/  /' "$dir/update.log" >&2
        log "warning: apt-get update had problems (above); continuing with the indexes it has"
    fi
}

apt_private_index_sha() {
    apt-cache "${APT_OPTS[@]}" show "$1=$2" 2>/dev/null | awk '/^SHA256: /{ print $2; exit }'
}

apt_private_fetch() {
    local pkg=$1 ver=$2 sha=$3 deb=$4 tmp f
    [[ -f $deb && $(sha256sum "$deb" | cut -d' ' -f1) == "$sha" ]] && return 0
    tmp=$(mktemp -d "$(dirname "$deb")/.dl.XXXXXX")
    local -a sandbox=()
    ((EUID == 0)) && sandbox=(-o APT::Sandbox::User=root)
    log "$pkg $ver: apt-get download"
    if ! (cd "$tmp" && apt-get "${APT_OPTS[@]}" "${sandbox[@]}" -qq download "$pkg=$ver") >"$tmp/log" 2>&1; then
        sed 's/^/  /' "$tmp/log" >&2
        rm -rf "$tmp"
        return 1
    fi
    f=$(compgen -G "$tmp/*.deb" | head -n 1)
    if [[ -z $f || $(sha256sum "$f" | cut -d' ' -f1) != "$sha" ]]; then
        rm -rf "$tmp"
        die "$pkg $ver: the download is not the package with sha256 $sha; refusing"
    fi
    mv "$f" "$deb"
    rm -rf "$tmp"
}

apt_private_kernel() {
    local arch=$1 pin=$2 got
    got=$(apt_private_index_sha "$KPKG" "$KVER")
    if [[ -n $got ]]; then
        [[ $got == "$KSHA" ]] || die "$KPKG $KVER: the index says sha256 $got, $pin $KSHA; refusing"
        return 0
    fi
    ((APT_PRIVATE_UPDATE_RC)) && return 1
    # the pinned ABI has left the archive: take the current one, loudly
    local was="$KPKG $KVER"
    KPKG=$(apt-cache "${APT_OPTS[@]}" depends "linux-image-$arch" 2>/dev/null |
        awk -v a="$arch" '$1 == "Depends:" && $2 ~ ("^linux-image-6\\.1\\.0-[0-9]+-" a "$") { print $2; exit }')
    [[ -n $KPKG ]] || die "no linux-image-6.1.0-*-$arch in the archive"
    KVER=$(apt-cache "${APT_OPTS[@]}" policy "$KPKG" | awk '$1 == "Candidate:" { print $2 }')
    KSHA=$(apt_private_index_sha "$KPKG" "$KVER")
    [[ -n $KSHA ]] || die "$KPKG $KVER: no sha256 in the index"
    log "warning: $was is no longer in the archive; using $KPKG $KVER (sha256 $KSHA): update $pin"
}
