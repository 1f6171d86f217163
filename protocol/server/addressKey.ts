/** Per-address accounting shared by the edge's admission, both servers' connection guards and discovery's rate limits. */

/** The key an address is counted under: IPv4 as is, IPv4-mapped IPv6 as IPv4, other IPv6 by /64. */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const v4 = ipv4(address);
  if (v4) return v4;
  if (!address.includes(':')) return address;
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
}

/**
 * The network an address belongs to, for limits that a host with many addresses must not escape:
 * IPv4 by /24, IPv6 by /56 (what one ISP customer is usually given: a host that walks its /64s,
 * or a /24 of IPv4 loopback aliases, stays one subnet).
 */
export function subnetKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const v4 = ipv4(address);
  if (v4) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  if (!address.includes(':')) return address;
  const groups = ipv6Groups(address);
  // 56 bits: three groups and the high byte of the fourth
  const fourth = (parseInt(groups[3]!, 16) & 0xff00).toString(16);
  return `${[...groups.slice(0, 3), fourth].join(':')}::/56`;
}

function ipv4(address: string): string | undefined {
  const mapped = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : undefined;
}

/** The eight groups of an IPv6 address, `::` expanded, leading zeros dropped, lower case. */
function ipv6Groups(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return groups.map((g) => g.replace(/^0+(?=.)/, '') || '0');
}
