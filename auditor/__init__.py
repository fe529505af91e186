"""uccx-cert-auditor: audit UCCX 11.5 tomcat / tomcat-ECDSA certificates."""

__version__ = "0.1.0"
