#!/usr/bin/env bash
# Installs, from Debian packages, the real services Keisan's integration tests use.
# Run as root (or with sudo): npm run deps. Safe to run again: installs only what is missing.
set -euo pipefail

packages=(
  postgresql        # the production database; tests start a throwaway cluster of it
  build-essential   # compiles better-sqlite3 when no prebuilt binary can be downloaded
  python3
  openssl           # certificates for the TLS test
  acl               # setfacl/getfacl: user areas (src/storage/areas) set POSIX ACLs with them
  python3-aiosmtpd  # a real SMTP server on loopback for the mail tests (src/monitor/testing-smtp.ts)
  # OpenStack Swift with s3api: the S3 archive tier's real test server (scripts/throwaway-swift.js)
  swift swift-proxy swift-account swift-container swift-object python3-swift
  memcached         # the Swift proxy's token cache
  # Monitoring (src/monitor, deploy/, bench/agent.ts):
  prometheus        # promtool: src/monitor/deploy.test.ts checks deploy/prometheus (config, rules, rule unit tests).
                    # With policy-rc.d in place (below) installing it starts no Prometheus server: its
                    # postinst calls invoke-rc.d / deb-systemd-invoke, which policy-rc.d's exit 101 refuses
                    # (checked: running its postinst prints "policy-rc.d denied execution of restart", no process).
  prometheus-node-exporter  # bench/agent.ts: the footprint peer the agent is compared with (the bench starts its own)
  iputils-arping    # arping -D: the duplicate-IP check's address probe (src/monitor/checks) and its netns test
  fping             # the ping check's many-hosts probe (src/monitor/checks)
  iputils-ping      # ping: the ping check (src/monitor/checks)
  ieee-data         # OUI vendor names for the MAC addresses a duplicate-IP alert names (src/monitor/checks)
  iproute2          # ip netns / ip neigh: the duplicate-IP check and its two-namespace test, bench/agent.ts
  # Recovery watchdog bench (bench/recovery, npm run bench:recovery; its --smoke runs in .ci/run):
  earlyoom          # the baseline the watchdog is compared with; the bench runs its own in the foreground
                    # (-r 0, --avoid system processes). policy-rc.d (below) keeps the packaged earlyoom
                    # service from starting on install: it must never run as a service beside the bench.
  gnuplot-nox       # the bench's time-series plots (bench/recovery/plots/*.png); its injectors build with build-essential's gcc
  # Power events (src/ops/power): the tests start a private upsd + dummy-ups on loopback (no upsmon needed)
  nut-server nut-client
  # Login hosts (issue 10): deploy/ssh/keisan-login-proxy carries ssh's connection with nc; its test connects through it
  netcat-openbsd curl
  # SLURM (batch.executor: slurm, issue 8): the tests start private clusters (src/batch/executors/slurm/testing.ts):
  # munged with its own key and socket, slurmctld, slurmd, slurmdbd on a throwaway MariaDB (scripts/throwaway-mariadb.js).
  # Their postinsts start the packaged services through invoke-rc.d / deb-systemd-invoke, which policy-rc.d (below)
  # refuses (checked for munge, slurmctld, slurmd, slurmdbd, mariadb, slurmrestd: "policy-rc.d denied execution of
  # start", no munged/slurmd/mariadbd left running; mariadb-server's postinst runs mariadbd only in --bootstrap mode,
  # which exits). The Debian munge key /etc/munge/munge.key is not used by the tests.
  slurm-wlm slurmdbd munge
  mariadb-server    # slurmdbd's database (the tests' clusters each get their own database on one MariaDB)
  slurmrestd        # bench/batch-vs-slurm.ts submits through it besides sbatch
  # One identity through LDAP (src/accounts/ldap, issue 10): the tests start a throwaway slapd (own slapd.conf,
  # private mdb directory, loopback port) and check it with ldapsearch/ldapwhoami; the nslcd test runs nslcd in a
  # private mount namespace with its own nslcd.conf and nsswitch.conf. The debconf answers below keep the install
  # from creating a default directory (slapd/no_configuration) and from editing /etc/nsswitch.conf (libnss-ldapd);
  # policy-rc.d refuses the start of slapd and nslcd (checked: no slapd or nslcd left running after install).
  slapd ldap-utils nslcd libnss-ldapd
  # A shell login through the directory (src/accounts/ldap/ssh-login.test.ts): a private sshd on a loopback port
  # with its own sshd_config, host key and PAM stack (pam_ldap, pam_mkhomedir) bind-mounted in the nslcd test's
  # namespace; sshpass types the password. policy-rc.d refuses the start of the packaged ssh service (checked: no
  # sshd left running). libpam-ldapd's postinst enables its pam-auth-update profile in the machine's
  # /etc/pam.d/common-*: it is switched off again below (the test brings its own PAM stack).
  openssh-server sshpass libpam-ldapd
  # The web UI's browser tests (web/e2e, issue 9): playwright-core drives Debian's Chromium at /usr/bin/chromium;
  # no browser is ever downloaded. Noto CJK so Japanese pages (and their screenshots) render real glyphs.
  chromium fonts-noto-cjk
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: everything is installed (${packages[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else echo "deps: run as root to install: ${missing[*]}" >&2; exit 1; fi
else
  SUDO=
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps Debian from starting the packaged services (PostgreSQL, Swift, memcached,
# Prometheus, node_exporter, earlyoom, munge, slurmctld, slurmd, slurmdbd, MariaDB, slurmrestd):
# tests run their own instances on private ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
if command -v debconf-set-selections >/dev/null; then
  printf '%s\n' 'slapd slapd/no_configuration boolean true' 'libnss-ldapd libnss-ldapd/nsswitch multiselect' \
    'libnss-ldapd libnss-ldapd/clean_nsswitch boolean false' 'nslcd nslcd/ldap-uris string ldap://127.0.0.1/' \
    'nslcd nslcd/ldap-base string dc=example,dc=org' | $SUDO debconf-set-selections
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [[ " ${missing[*]} " == *" libpam-ldapd "* ]] && command -v pam-auth-update >/dev/null; then
  # Leave this machine's own logins as they were: no pam_ldap in /etc/pam.d/common-* (see libpam-ldapd above).
  $SUDO env DEBIAN_FRONTEND=noninteractive pam-auth-update --package --remove ldap
fi
echo "deps: done"
