//! Database clusters: what Straddle must know about the servers it runs on beyond one
//! connection — MariaDB Galera ([`galera`]), and its rolling schema upgrade ([`rsu`]). (Standby lag is a pacing signal:
//! `crate::pacing`; many databases are `crate::targets`.)

pub(crate) mod galera;
pub(crate) mod rsu;
