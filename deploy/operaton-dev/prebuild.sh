#!/usr/bin/env bash
# Puts Operaton's Jackson data format for Spin (the Json variable type) into the local Maven
# repository before operaton-dev's build. Maven Central serves the jar
# org.operaton.spin:operaton-spin-dataformat-json-jackson:1.0.0 but not its parent POM, so Maven
# refuses it as an ordinary dependency. This fetches the single jar by its coordinates, checks it
# against the SHA-256 pinned below (and the SHA-1 Maven Central publishes next to it) and installs
# it with a generated POM of no dependencies; pom.xml declares what it needs (Jackson, JsonPath).
set -euo pipefail

GROUP=org.operaton.spin
ARTIFACT=operaton-spin-dataformat-json-jackson
VERSION=1.0.0
SHA256=32712a5c6c9cea0064d83062c2dfe86d83871f2f0b37b23e13fb1f638339a463
REPOSITORY="${MAVEN_CENTRAL_URL:-https://repo.maven.apache.org/maven2}"
LOCAL="${MAVEN_LOCAL_REPOSITORY:-$HOME/.m2/repository}"

installed="$LOCAL/${GROUP//.//}/$ARTIFACT/$VERSION/$ARTIFACT-$VERSION.jar"
if [[ -f "$installed" ]] && echo "$SHA256  $installed" | sha256sum -c --status; then
    exit 0
fi

url="$REPOSITORY/${GROUP//.//}/$ARTIFACT/$VERSION/$ARTIFACT-$VERSION.jar"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "operaton-dev: fetching $url"
curl -fsSL --retry 3 -o "$tmp/$ARTIFACT.jar" "$url"
curl -fsSL --retry 3 -o "$tmp/$ARTIFACT.jar.sha1" "$url.sha1"
if ! echo "$SHA256  $tmp/$ARTIFACT.jar" | sha256sum -c --status; then
    echo "operaton-dev: ERROR: $url does not have the pinned SHA-256 $SHA256" >&2
    exit 1
fi
if [[ "$(cut -c1-40 "$tmp/$ARTIFACT.jar.sha1")" != "$(sha1sum "$tmp/$ARTIFACT.jar" | cut -c1-40)" ]]; then
    echo "operaton-dev: ERROR: $url does not match the SHA-1 Maven Central publishes for it" >&2
    exit 1
fi
mvn -q -B install:install-file -Dfile="$tmp/$ARTIFACT.jar" -DgroupId="$GROUP" -DartifactId="$ARTIFACT" \
    -Dversion="$VERSION" -Dpackaging=jar -DgeneratePom=true -DlocalRepositoryPath="$LOCAL"
echo "operaton-dev: installed $GROUP:$ARTIFACT:$VERSION (SHA-256 verified) into $LOCAL"
