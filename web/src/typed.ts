// EIP-712 typed data built from what the relayer serves: the bindings' domain names, versions and
// type strings (bindings/src/payroll.rs, escrow.rs), so the page never keeps its own copy.
import type { Address, TypedDataDomain } from 'viem';
import type { DeploymentConfig, Eip712Config } from './config';

export interface TypedField {
  name: string;
  type: string;
}

/** Parses `Name(type1 field1,type2 field2)` into its name and fields. */
export function parseTypeString(text: string): { primaryType: string; fields: TypedField[] } {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$/.exec(text.trim());
  if (!match) throw new Error(`not an EIP-712 type string: ${text}`);
  const fields = match[2]
    .split(',')
    .filter((part) => part.trim() !== '')
    .map((part) => {
      const [type, name] = part.trim().split(/\s+/);
      if (!type || !name) throw new Error(`bad field "${part}" in ${text}`);
      return { name, type };
    });
  return { primaryType: match[1], fields };
}

function find(spec: Eip712Config, primaryType: string): TypedField[] {
  for (const text of spec.types) {
    const parsed = parseTypeString(text);
    if (parsed.primaryType === primaryType) return parsed.fields;
  }
  throw new Error(`the relayer's EIP-712 config has no ${primaryType} type`);
}

/** The typed data for `eth_signTypedData_v4` (viem adds `EIP712Domain` from the domain's fields). */
export function typedData(
  config: DeploymentConfig,
  contract: 'payroll' | 'escrow',
  primaryType: string,
  message: Record<string, bigint | Address>,
) {
  const spec = config.eip712[contract];
  const domain: TypedDataDomain = {
    name: spec.name,
    version: spec.version,
    chainId: config.chainId,
    verifyingContract: contract === 'payroll' ? config.payroll : config.escrow,
  };
  return { domain, types: { [primaryType]: find(spec, primaryType) }, primaryType, message };
}
