//! Who a limit counts: one IPv4 address, or one IPv6 /64 (what a single host on a network
//! can take addresses from), so that a laptop cycling through its IPv6 addresses is still
//! one peer for the connection cap and the login limits; and the sliding-window attempt
//! limiter the console's login and kiosk enrolment share.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

/// Peers an [`AttemptLimiter`] remembers one by one; beyond, new peers share one count
/// rather than going uncounted.
const MAX_PEERS: usize = 10_000;

/// The address a per-peer limit counts `address` under.
pub fn peer_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
        },
    }
}

/// At most `per_peer` attempts per peer and `all_peers` attempts in all (loopback
/// excepted: the organiser at the hub machine itself is never locked out by guessing from
/// the network) within a sliding `window_ms`. An attempt is counted when it is made, before
/// any slow check, so simultaneous attempts cannot all slip past the limit.
#[derive(Debug)]
pub struct AttemptLimiter {
    per_peer: usize,
    all_peers: usize,
    window_ms: i64,
    attempts: Mutex<Attempts>,
}

#[derive(Debug, Default)]
struct Attempts {
    by_peer: HashMap<PeerCount, VecDeque<i64>>,
    /// Every counted attempt of a non-loopback peer, oldest first.
    all: VecDeque<(i64, PeerCount)>,
}

/// What one count belongs to: a peer, or the peers that came once the table was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum PeerCount {
    Peer(IpAddr),
    Overflow,
}

impl AttemptLimiter {
    pub fn new(per_peer: usize, all_peers: usize, window_ms: i64) -> Self {
        Self {
            per_peer,
            all_peers,
            window_ms,
            attempts: Mutex::default(),
        }
    }

    /// Counts an attempt from `address` at `now_ms`, or Err(the time it may try again).
    pub fn attempt(&self, address: IpAddr, now_ms: i64) -> Result<(), i64> {
        let Ok(mut attempts) = self.attempts.lock() else {
            return Err(now_ms + self.window_ms);
        };
        let cutoff = now_ms - self.window_ms;
        while attempts.all.front().is_some_and(|(at, _)| *at <= cutoff) {
            attempts.all.pop_front();
        }
        attempts.by_peer.retain(|_, times| {
            while times.front().is_some_and(|at| *at <= cutoff) {
                times.pop_front();
            }
            !times.is_empty()
        });
        let mut count = PeerCount::Peer(peer_key(address));
        if !attempts.by_peer.contains_key(&count) && attempts.by_peer.len() >= MAX_PEERS {
            count = PeerCount::Overflow;
        }
        if let Some(times) = attempts.by_peer.get(&count) {
            if times.len() >= self.per_peer {
                return Err(times.front().copied().unwrap_or(now_ms) + self.window_ms);
            }
        }
        let counted_in_all = !address.is_loopback();
        if counted_in_all && attempts.all.len() >= self.all_peers {
            return Err(attempts.all.front().map_or(now_ms, |(at, _)| *at) + self.window_ms);
        }
        attempts.by_peer.entry(count).or_default().push_back(now_ms);
        if counted_in_all {
            attempts.all.push_back((now_ms, count));
        }
        Ok(())
    }

    /// Forgets `address`'s attempts (it proved itself: the right password).
    pub fn forget(&self, address: IpAddr) {
        if let Ok(mut attempts) = self.attempts.lock() {
            let count = PeerCount::Peer(peer_key(address));
            attempts.by_peer.remove(&count);
            attempts.all.retain(|(_, counted)| *counted != count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_count_per_peer_and_window_and_a_success_clears() {
        let limiter = AttemptLimiter::new(2, 100, 1000);
        let one: IpAddr = [10, 0, 0, 1].into();
        let two: IpAddr = [10, 0, 0, 2].into();
        assert!(limiter.attempt(one, 0).is_ok());
        assert!(limiter.attempt(one, 10).is_ok());
        assert_eq!(limiter.attempt(one, 20), Err(1000));
        assert!(limiter.attempt(two, 20).is_ok());
        assert_eq!(limiter.attempt(one, 1000), Ok(()), "the first attempt left the window");
        limiter.forget(one);
        assert!(limiter.attempt(one, 1001).is_ok());
        assert!(limiter.attempt(one, 1002).is_ok());
    }

    #[test]
    fn one_ipv6_host_is_one_peer_whatever_address_it_takes() {
        let limiter = AttemptLimiter::new(3, 100, 1000);
        for n in 0..3 {
            let address: IpAddr = format!("2001:db8:1:2::{n:x}").parse().unwrap();
            assert!(limiter.attempt(address, 1).is_ok());
        }
        let next: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert!(limiter.attempt(next, 2).is_err());
    }

    #[test]
    fn many_peers_share_one_limit_but_loopback_is_never_locked_out() {
        let limiter = AttemptLimiter::new(5, 100, 1000);
        let admitted = (0..200)
            .filter(|n| {
                let address: IpAddr = format!("10.{}.{}.1", n / 256, n % 256).parse().unwrap();
                limiter.attempt(address, 5).is_ok()
            })
            .count();
        assert_eq!(admitted, 100);
        assert!(limiter.attempt("127.0.0.1".parse().unwrap(), 6).is_ok());
        assert!(limiter.attempt("::1".parse().unwrap(), 6).is_ok());
        assert!(
            limiter.attempt("10.200.0.1".parse().unwrap(), 1006).is_ok(),
            "the window passes"
        );
    }

    #[test]
    fn a_full_table_counts_new_peers_together_instead_of_not_at_all() {
        let limiter = AttemptLimiter::new(5, usize::MAX, 1000);
        {
            let mut attempts = limiter.attempts.lock().unwrap();
            for n in 0..MAX_PEERS {
                let address: IpAddr = format!("172.16.{}.{}", n / 256, n % 256).parse().unwrap();
                attempts.by_peer.insert(PeerCount::Peer(address), VecDeque::from([1]));
            }
        }
        for n in 0..5 {
            let address: IpAddr = format!("198.51.100.{n}").parse().unwrap();
            assert!(limiter.attempt(address, 2).is_ok());
        }
        assert!(limiter.attempt("198.51.100.200".parse().unwrap(), 2).is_err());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(peer_key(a), peer_key(b));
        assert_ne!(peer_key(a), peer_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let plain: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(peer_key(mapped), plain);
        assert_eq!(peer_key(plain), plain);
    }
}
