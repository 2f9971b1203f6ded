"""The organisations' own identity providers (OpenID Connect), as configured.

Read from the environment by ``config/settings/base.py`` (``OIDC_PROVIDERS``
and ``OIDC_<KEY>_*``, documented in the README › Settings) into
``settings.SAMVERKAN_OIDC_PROVIDERS``: a tuple of ``ProviderConfig``. This
module only describes and parses; nothing here touches the database except
``organisation()``, which looks up what a rule names.

A mapping rule says which claim gives which role where::

    group:<value>=<organisation>:<role>     the groups claim holds <value>
    domain:<domain>=<organisation>:<role>   the e-mail address ends in @<domain>

``<organisation>`` is a municipality's four-digit code (``2080``) or an
organisation's exact name (``Region Dalarna``); ``<role>`` is a role's code
(``coordinator``, ``cultural_head``, ``official``, ``auditor``,
``administrator``). Rules are separated by ``;`` or new lines. A rule that
names an unknown organisation or a role that does not fit it is not an error
at start-up: it is a mapping problem, shown to administrators when someone
signs in with that claim (the person is signed in without that role).
"""

import re
from dataclasses import dataclass, field

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,29}$")
RULE_PATTERN = re.compile(r"^\s*(group|domain):(.+?)\s*=\s*(.+?)\s*:\s*([a-z_]+)\s*$")


class ProviderConfigError(ValueError):
    """The environment describes a provider wrongly (stops start-up)."""


@dataclass(frozen=True)
class MappingRule:
    kind: str  # "group" or "domain"
    value: str
    organisation: str  # a kommunkod or an organisation's name
    role: str

    def __str__(self):
        return f"{self.kind}:{self.value}={self.organisation}:{self.role}"

    def matches(self, *, email_domain, groups):
        if self.kind == "domain":
            return email_domain == self.value.lower()
        return self.value in groups


@dataclass(frozen=True)
class ProviderConfig:
    key: str
    name: str
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    # E-mail domains this provider vouches for: a person it signs in for the
    # first time is linked to (or created as) the account with that address
    # only when the address is in one of these domains.
    domains: tuple = ()
    rules: tuple = ()
    # Organisations whose users sign in here even where no rule gives a role.
    organisations: tuple = ()
    scopes: str = "openid email profile"
    groups_claim: str = "groups"
    email_claim: str = "email"
    subject_claim: str = "sub"
    # Which amr values, or which acr values, mean the person used more than one factor.
    mfa_amr: tuple = ("mfa",)
    mfa_acr: tuple = ()
    userinfo: bool = False
    sign_algo: str = "RS256"
    timeout: float = 10.0

    @property
    def organisation_refs(self):
        """Every organisation this provider signs people in for."""
        return tuple(dict.fromkeys([*self.organisations, *(rule.organisation for rule in self.rules)]))

    def email_domain_allowed(self, email):
        domain = email.rsplit("@", 1)[-1].lower() if "@" in email else ""
        return bool(domain) and domain in self.domains

    def is_multi_factor(self, claims):
        """Does the ID token say that the person used more than one factor?"""
        amr = claims.get("amr") or []
        if isinstance(amr, str):
            amr = [amr]
        if set(amr) & set(self.mfa_amr):
            return True
        return bool(self.mfa_acr) and claims.get("acr") in self.mfa_acr

    def groups(self, claims):
        value = claims.get(self.groups_claim) or []
        if isinstance(value, str):
            value = [value]
        return {str(item) for item in value}

    def matching_rules(self, claims, email):
        domain = email.rsplit("@", 1)[-1].lower() if "@" in email else ""
        groups = self.groups(claims)
        return [rule for rule in self.rules if rule.matches(email_domain=domain, groups=groups)]


def parse_rules(text):
    rules = []
    for part in re.split(r"[;\n]", text or ""):
        if not part.strip():
            continue
        match = RULE_PATTERN.match(part)
        if not match:
            raise ProviderConfigError(
                f"The mapping rule {part.strip()!r} is not of the form group:<value>=<organisation>:<role> "
                f"or domain:<domain>=<organisation>:<role>."
            )
        kind, value, organisation, role = match.groups()
        rules.append(MappingRule(kind=kind, value=value.strip(), organisation=organisation, role=role))
    return tuple(rules)


def _words(text, separator=","):
    return tuple(word.strip() for word in (text or "").split(separator) if word.strip())


def providers_from_env(env):
    """Every provider named in OIDC_PROVIDERS, read from OIDC_<KEY>_* (django-environ's ``env``)."""
    providers = []
    for key in _words(env.str("OIDC_PROVIDERS", default="")):
        if not KEY_PATTERN.match(key):
            raise ProviderConfigError(f"OIDC_PROVIDERS: {key!r} must be lower-case letters, digits and hyphens.")
        prefix = f"OIDC_{key.upper().replace('-', '_')}_"

        def value(name, default=None, prefix=prefix):
            text = env.str(prefix + name, default="").strip()
            if not text and default is None:
                raise ProviderConfigError(f"The environment variable {prefix}{name} is required.")
            return text or default

        issuer = value("ISSUER").rstrip("/")
        domains = tuple(d.lower().lstrip("@") for d in _words(value("DOMAINS")))
        providers.append(
            ProviderConfig(
                key=key,
                name=value("NAME", key),
                issuer=issuer,
                client_id=value("CLIENT_ID"),
                client_secret=value("CLIENT_SECRET"),
                domains=domains,
                rules=parse_rules(value("ROLES", "")),
                organisations=_words(value("ORGANISATIONS", ""), ";"),
                scopes=value("SCOPES", "openid email profile"),
                groups_claim=value("GROUPS_CLAIM", "groups"),
                email_claim=value("EMAIL_CLAIM", "email"),
                subject_claim=value("SUBJECT_CLAIM", "sub"),
                mfa_amr=_words(value("MFA_AMR", "mfa")),
                mfa_acr=_words(value("MFA_ACR", "")),
                userinfo=value("USERINFO", "false").lower() in ("1", "true", "yes", "on"),
                timeout=float(value("TIMEOUT", "10")),
            )
        )
    if len({p.key for p in providers}) != len(providers):
        raise ProviderConfigError("OIDC_PROVIDERS names a provider twice.")
    return tuple(providers)


# ----------------------------------------------------------------------------
# At run time
# ----------------------------------------------------------------------------


def all_providers():
    from django.conf import settings

    return tuple(getattr(settings, "SAMVERKAN_OIDC_PROVIDERS", ()))


def get_provider(key):
    return next((p for p in all_providers() if p.key == key), None)


def organisation(ref):
    """The active organisation a rule names (kommunkod or exact name), or None."""
    from .models import Organisation

    active = Organisation.objects.filter(is_active=True)
    if ref.isdigit() and len(ref) == 4:
        return active.filter(kind=Organisation.Kind.MUNICIPALITY, kommunkod=ref).first()
    return active.filter(name=ref).first()


def providers_by_organisation():
    """{organisation id: [providers]} for every organisation a provider names."""
    from django.db.models import Q

    from .models import Organisation

    result = {}
    for provider in all_providers():
        refs = provider.organisation_refs
        codes = [r for r in refs if r.isdigit() and len(r) == 4]
        names = [r for r in refs if r not in codes]
        if not refs:
            continue
        query = Q(kind=Organisation.Kind.MUNICIPALITY, kommunkod__in=codes) | Q(name__in=names)
        for pk in Organisation.objects.filter(query).values_list("pk", flat=True):
            result.setdefault(pk, []).append(provider)
    return result
