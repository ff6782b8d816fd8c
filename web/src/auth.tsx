import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, ApiError, call, savedTicket, saveTicket, session } from './api/client.ts';
export type Me = Awaited<ReturnType<typeof fetchMe>>;

async function fetchMe() {
  const whoami = await call(api.GET('/api/auth/whoami'));
  const [workgroups, subgroups] = await Promise.all([call(api.GET('/api/workgroups')), call(api.GET('/api/subgroups', {}))]);
  const name = whoami.user.name;
  return {
    user: whoami.user,
    ticket: whoami.ticket,
    isOperator: whoami.user.isOperator,
    /** Workgroups and subgroups this user administers (the group-admin views show them). */
    adminOf: {
      workgroups: workgroups.filter((w) => w.admins.includes(name)).map((w) => w.name),
      subgroups: subgroups.filter((s) => s.admins.includes(name)).map((s) => s.name),
    },
  };
}

interface AuthState {
  ticket: string | null;
  me: Me | null;
  /** True until the saved ticket has been checked. */
  checking: boolean;
  expired: boolean;
  login: (user: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [ticket, setTicket] = useState<string | null>(savedTicket);
  const [expired, setExpired] = useState(false);
  const me = useQuery({
    queryKey: ['me', ticket],
    queryFn: fetchMe,
    enabled: ticket !== null,
    staleTime: 60_000,
    // While the server restarts, keep asking: the ticket is still good afterwards.
    retry: (count, error) => !(error instanceof ApiError && error.status === 401) && count < 1000,
    retryDelay: 1000,
  });

  const forget = useCallback(() => {
    saveTicket(null);
    setTicket(null);
    queryClient.clear();
  }, [queryClient]);

  useEffect(() => {
    session.onExpired = () => {
      if (savedTicket()) setExpired(true);
      forget();
    };
  }, [forget]);

  const value = useMemo<AuthState>(
    () => ({
      ticket,
      me: me.data ?? null,
      checking: ticket !== null && !me.data,
      expired,
      login: async (user, password) => {
        const result = await call(api.POST('/api/auth/login', { body: { user, password } }));
        saveTicket(result.ticket);
        setExpired(false);
        setTicket(result.ticket);
      },
      logout: async () => {
        try {
          await call(api.POST('/api/auth/logout'));
        } catch {
          // the ticket is forgotten here either way
        }
        forget();
      },
    }),
    [ticket, me.data, expired, forget],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error('useAuth outside AuthProvider');
  return value;
}

/** The logged-in user; only inside the authenticated layout. */
export function useMe(): Me {
  const { me } = useAuth();
  if (!me) throw new Error('useMe before login');
  return me;
}

export type User = Me['user'];
