# install.mk - `make install`: programs, the PAM module, man pages, bash
# completion, the notification hooks and the deploy examples, and nothing
# else.  Included by the
# Makefile, whose variables it uses (PREFIX, DESTDIR, PAMDIR, BROKERD,
# BROKER, PAMMOD, PAM_SRC).  Setting up the host (the broker user, state
# and config directories, systemd units) is deploy/install.sh's job, run
# as root afterwards.
#
#   make install                         # into /usr/local
#   make install PREFIX=/usr DESTDIR=/tmp/pkgroot
#
# The PAM module goes to the multiarch PAM directory (PAMDIR), which is not
# under PREFIX because libpam looks nowhere else.

MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
EXAMPLEDIR  ?= $(PREFIX)/share/broker/examples
# the notify.exec hooks, where docs/notifications.md and the example
# config name them (/usr/local/lib/broker/hooks by default)
HOOKDIR     ?= $(PREFIX)/lib/broker/hooks
INSTALL     ?= install

MAN_PAGES = man/broker.1 man/broker-policy.5 man/brokerd.8 man/pam_broker.8

install: all
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	$(INSTALL) -m 0755 $(BROKERD) $(DESTDIR)$(PREFIX)/sbin/brokerd
	$(INSTALL) -m 0755 $(BROKER) $(DESTDIR)$(PREFIX)/bin/broker
	$(if $(PAM_SRC),$(INSTALL) -d $(DESTDIR)$(PAMDIR))
	$(if $(PAM_SRC),$(INSTALL) -m 0644 $(PAMMOD) $(DESTDIR)$(PAMDIR)/pam_broker.so)
	$(INSTALL) -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 0644 man/broker.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 man/broker-policy.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 man/brokerd.8 man/pam_broker.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -d $(DESTDIR)$(BASHCOMPDIR)
	$(INSTALL) -m 0644 deploy/bash-completion/broker $(DESTDIR)$(BASHCOMPDIR)/broker
	$(INSTALL) -d $(DESTDIR)$(EXAMPLEDIR)/policy $(DESTDIR)$(EXAMPLEDIR)/systemd \
	    $(DESTDIR)$(EXAMPLEDIR)/pam.d $(DESTDIR)$(EXAMPLEDIR)/sshd_config.d
	$(INSTALL) -m 0644 deploy/brokerd.json $(DESTDIR)$(EXAMPLEDIR)/
	$(INSTALL) -m 0755 deploy/install.sh $(DESTDIR)$(EXAMPLEDIR)/
	$(INSTALL) -m 0644 policy/examples/*.json $(DESTDIR)$(EXAMPLEDIR)/policy/
	$(INSTALL) -m 0644 deploy/systemd/*.service deploy/systemd/*.timer $(DESTDIR)$(EXAMPLEDIR)/systemd/
	$(INSTALL) -m 0644 deploy/pam.d/broker-sshd $(DESTDIR)$(EXAMPLEDIR)/pam.d/
	$(INSTALL) -m 0644 deploy/sshd_config.d/broker.conf $(DESTDIR)$(EXAMPLEDIR)/sshd_config.d/
	$(INSTALL) -d $(DESTDIR)$(HOOKDIR)
	$(INSTALL) -m 0755 deploy/hooks/*.sh $(DESTDIR)$(HOOKDIR)/
