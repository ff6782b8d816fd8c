import { readFileSync } from 'node:fs';

/** Debian's ieee-data: the IEEE registry of MAC address blocks (MA-L, 24-bit prefixes). */
export const OUI_CSV = '/usr/share/ieee-data/oui.csv';

/** One CSV line's fields (RFC 4180 quoting: "a, b" and "" inside quotes). */
export function csvFields(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        current += '"';
        i++;
      } else if (c === '"') quoted = false;
      else current += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(current);
      current = '';
    } else current += c;
  }
  fields.push(current);
  return fields;
}

export function parseOuiCsv(text: string): Map<string, string> {
  const vendors = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('MA-L,')) continue;
    const [, assignment, organization] = csvFields(line.trimEnd());
    if (assignment && organization) vendors.set(assignment.toUpperCase(), organization.trim());
  }
  return vendors;
}

/** MAC → vendor names, loaded from the file once, on first use. */
export class OuiTable {
  private vendors: Map<string, string> | null = null;
  private loadError: string | null = null;

  constructor(private readonly file = OUI_CSV) {}

  /** The vendor of a MAC address: its registered organisation, "locally administered", or null when unknown. */
  vendorOf(mac: string): string | null {
    const hex = mac.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
    if (hex.length < 6) return null;
    if (this.vendors === null && this.loadError === null) {
      try {
        this.vendors = parseOuiCsv(readFileSync(this.file, 'utf8'));
      } catch (error) {
        this.loadError = error instanceof Error ? error.message : String(error);
      }
    }
    const found = this.vendors?.get(hex.slice(0, 6));
    if (found) return found;
    // The second-lowest bit of the first octet: set by VMs, containers and software (02:42:… Docker).
    if ((parseInt(hex.slice(0, 2), 16) & 0x02) !== 0) return 'locally administered';
    return null;
  }

  get loaded(): boolean {
    return this.vendors !== null;
  }

  get error(): string | null {
    return this.loadError;
  }
}

/** The agent's one table: the file is read the first time a MAC is named. */
export const ouiTable = new OuiTable();

/** "02:42:ac:11:00:03 (Vendor)" or the bare MAC when the vendor is not known. */
export function macWithVendor(mac: string, table: OuiTable = ouiTable): string {
  const vendor = table.vendorOf(mac);
  return vendor ? `${mac} (${vendor})` : `${mac} (vendor unknown)`;
}
