//! Tamper evidence: every audit row is a link of its dbward instance's chain.
//!
//! A link's `hmac` is HMAC-SHA-256, under a key derived from the master key, over the previous
//! link's `hmac` and every stored field of the row, each length-prefixed (so no two different
//! rows encode alike), including the instance id and the row's position `seq` (1, 2, 3… per
//! instance). So an edited row fails its own link, a deleted or reordered row breaks the
//! sequence or the next link, and a forged row cannot be made without the master key.
//!
//! One chain per instance, because several instances share a PostgreSQL store and each appends
//! under its own head (`audit_chain` row, locked while appending). The chain's first link
//! starts from a genesis value derived from the instance id. A deleted tail leaves a consistent
//! but shorter chain: the head is therefore also kept outside the store ([`HeadFile`], in the
//! data directory), and verification compares the two. Pruning deletes a chain's oldest links
//! and records a checkpoint (the last pruned link's position and hash, with its own MAC), from
//! which verification then starts.
//!
//! Pure code: the store computes and checks links with it; nothing here does I/O but
//! [`HeadFile`].

use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::crypto::{MasterKey, Secret};

/// A link hash (32 bytes).
pub type Link = [u8; 32];

/// The chain key and which master key it came from.
#[derive(Clone)]
pub struct ChainKey {
    /// HMAC-SHA-256 already keyed (cloned per link: the key schedule is paid once).
    keyed: Hmac<Sha256>,
    key_id: String,
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChainKey(key_id={})", self.key_id)
    }
}

/// The fields of one row that its link covers.
#[derive(Debug, Clone, Copy)]
pub struct LinkFields<'a> {
    /// Chain (instance) id.
    pub instance_id: &'a str,
    /// Position in the chain.
    pub seq: i64,
    /// Event time, microseconds.
    pub at: i64,
    /// Event family.
    pub kind: &'a str,
    /// Acting user's id.
    pub actor_user_id: Option<i64>,
    /// Acting user's name.
    pub actor_username: Option<&'a str>,
    /// Client address.
    pub client_addr: Option<&'a str>,
    /// Action.
    pub action: &'a str,
    /// Entity kind.
    pub entity_type: Option<&'a str>,
    /// Entity id.
    pub entity_id: Option<&'a str>,
    /// Outcome.
    pub outcome: &'a str,
    /// JSON details as stored.
    pub details: Option<&'a str>,
    /// Session id.
    pub session_id: Option<&'a str>,
    /// dbward database name.
    pub database: Option<&'a str>,
    /// Grant id.
    pub grant_id: Option<i64>,
    /// Statement text as stored.
    pub statement: Option<&'a str>,
}

impl ChainKey {
    /// The chain key derived from `master`.
    #[must_use]
    pub fn new(master: &MasterKey) -> Self {
        let key = Secret::new(master.derive("audit-chain/v1"));
        Self {
            keyed: Hmac::<Sha256>::new_from_slice(key.expose())
                .expect("HMAC takes keys of any length"),
            key_id: master.id(),
        }
    }

    /// The id of the master key the chain key comes from (stored with every link).
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.keyed.clone()
    }

    /// Where the chain of `instance_id` starts.
    #[must_use]
    pub fn genesis(&self, instance_id: &str) -> Link {
        let mut b = Vec::new();
        put_str(&mut b, Some("genesis"));
        put_str(&mut b, Some(instance_id));
        let mut m = self.mac();
        m.update(&b);
        m.finalize().into_bytes().into()
    }

    /// The link of a row that follows `prev`. The fields are encoded into one buffer and
    /// hashed in one update (many small updates cost more than the hashing itself).
    #[must_use]
    pub fn link(&self, prev: &Link, f: &LinkFields<'_>) -> Link {
        let mut b = Vec::with_capacity(
            160 + f.statement.map_or(0, str::len) + f.details.map_or(0, str::len),
        );
        b.extend_from_slice(prev);
        put_str(&mut b, Some(f.instance_id));
        put_int(&mut b, Some(f.seq));
        put_int(&mut b, Some(f.at));
        put_str(&mut b, Some(f.kind));
        put_int(&mut b, f.actor_user_id);
        put_str(&mut b, f.actor_username);
        put_str(&mut b, f.client_addr);
        put_str(&mut b, Some(f.action));
        put_str(&mut b, f.entity_type);
        put_str(&mut b, f.entity_id);
        put_str(&mut b, Some(f.outcome));
        put_str(&mut b, f.details);
        put_str(&mut b, f.session_id);
        put_str(&mut b, f.database);
        put_int(&mut b, f.grant_id);
        put_str(&mut b, f.statement);
        let mut m = self.mac();
        m.update(&b);
        m.finalize().into_bytes().into()
    }

    /// The MAC sealing a checkpoint (a pruned chain's new starting point).
    #[must_use]
    pub fn checkpoint_mac(&self, instance_id: &str, seq: i64, hash: &Link, at: i64) -> Link {
        let mut b = Vec::new();
        put_str(&mut b, Some("checkpoint"));
        put_str(&mut b, Some(instance_id));
        put_int(&mut b, Some(seq));
        b.extend_from_slice(hash);
        put_int(&mut b, Some(at));
        let mut m = self.mac();
        m.update(&b);
        m.finalize().into_bytes().into()
    }
}

/// A present value is tagged 1 and length-prefixed; an absent one is the single byte 0.
fn put_str(b: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => b.push(0),
        Some(s) => {
            b.push(1);
            b.extend_from_slice(&(s.len() as u64).to_be_bytes());
            b.extend_from_slice(s.as_bytes());
        }
    }
}

fn put_int(b: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => b.push(0),
        Some(i) => {
            b.push(1);
            b.extend_from_slice(&i.to_be_bytes());
        }
    }
}

/// Lower-case hex of a link, as stored.
#[must_use]
pub fn to_hex(link: &Link) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in link {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Parses stored hex; `None` if it is not 64 hex digits.
#[must_use]
pub fn from_hex(text: &str) -> Option<Link> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16);
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = u8::try_from(digit(pair[0])?).ok()?;
        let lo = u8::try_from(digit(pair[1])?).ok()?;
        out[i] = hi << 4 | lo;
    }
    Some(out)
}

/// The chain head as last seen committed, kept in the instance's data directory so that a
/// tail deleted from the store (with its `audit_chain` row rewound) is still detected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// Chain id.
    pub instance_id: String,
    /// Last position.
    pub seq: i64,
    /// Last link, hex.
    pub hash: String,
}

/// The head file (`audit-head.json`).
#[derive(Debug, Clone)]
pub struct HeadFile {
    path: PathBuf,
}

impl HeadFile {
    /// The head file in `data_dir`.
    #[must_use]
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            path: data_dir.join("audit-head.json"),
        }
    }

    /// Reads it; `None` if it does not exist yet.
    pub fn read(&self) -> std::io::Result<Option<Head>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces it whole ([`crate::files::write_whole`]).
    pub fn write(&self, head: &Head) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(head).map_err(std::io::Error::other)?;
        crate::files::write_whole(&self.path, &bytes, 0o644, true)
    }
}

/// This instance's chain id, kept in `instance.id` in the data directory (created on first
/// start as a UUIDv7).
pub fn instance_id(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join("instance.id");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is empty", path.display()),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::now_v7().to_string();
            crate::files::write_whole(&path, format!("{id}\n").as_bytes(), 0o644, false)?;
            Ok(id)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(seq: i64, action: &str) -> LinkFields<'_> {
        LinkFields {
            instance_id: "i1",
            seq,
            at: 1,
            kind: "admin",
            actor_user_id: Some(1),
            actor_username: Some("admin"),
            client_addr: None,
            action,
            entity_type: None,
            entity_id: None,
            outcome: "success",
            details: Some("{}"),
            session_id: None,
            database: None,
            grant_id: None,
            statement: None,
        }
    }

    #[test]
    fn links_depend_on_every_input() {
        let key = ChainKey::new(&MasterKey::from_bytes([3; 32]));
        let g = key.genesis("i1");
        assert_ne!(g, key.genesis("i2"));
        let a = key.link(&g, &fields(1, "user.create"));
        assert_eq!(a, key.link(&g, &fields(1, "user.create")));
        assert_ne!(a, key.link(&g, &fields(2, "user.create")));
        assert_ne!(a, key.link(&g, &fields(1, "user.delete")));
        assert_ne!(a, key.link(&a, &fields(1, "user.create")));
        // None and the empty string are different values.
        let mut empty = fields(1, "user.create");
        empty.client_addr = Some("");
        assert_ne!(a, key.link(&g, &empty));
        let other = ChainKey::new(&MasterKey::from_bytes([4; 32]));
        assert_ne!(a, other.link(&g, &fields(1, "user.create")));
    }

    #[test]
    fn hex_round_trip() {
        let link = [0xab; 32];
        assert_eq!(from_hex(&to_hex(&link)), Some(link));
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn head_file_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = HeadFile::in_dir(dir.path());
        assert_eq!(file.read().expect("read"), None);
        let head = Head {
            instance_id: "i".into(),
            seq: 7,
            hash: "00".repeat(32),
        };
        file.write(&head).expect("write");
        assert_eq!(file.read().expect("read"), Some(head));
        let a = instance_id(dir.path()).expect("id");
        assert_eq!(a, instance_id(dir.path()).expect("id"));
    }
}
