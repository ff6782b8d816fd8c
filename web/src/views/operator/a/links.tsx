import { Link } from '@tanstack/react-router';
import type { ReactNode } from 'react';

/** Links into pages other areas own (part B's incidents and maintenance plans). */
export function IncidentLink({ id, children }: { id: number; children: ReactNode }) {
  return (
    <Link to="/ops/incidents/$id" params={{ id: String(id) }}>
      {children}
    </Link>
  );
}

export function MaintenancePlanLink({ id, children }: { id: number; children: ReactNode }) {
  return (
    <Link to="/ops/maint/$id" params={{ id: String(id) }}>
      {children}
    </Link>
  );
}
