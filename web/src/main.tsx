import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from '@tanstack/react-router';
import { StrictMode, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiError } from './api/client.ts';
import { AuthProvider, useAuth } from './auth.tsx';
import { I18nProvider } from './i18n/index.tsx';
import { router } from './router.tsx';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      // A restarting server answers again in seconds: keep trying quietly; a 4xx is final.
      retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 30,
      retryDelay: (attempt) => Math.min(1000 * 2 ** attempt, 5000),
      refetchOnWindowFocus: true,
    },
  },
});

function App() {
  const auth = useAuth();
  // Leaving or entering the session re-runs the routes' login guard.
  useEffect(() => {
    void router.invalidate();
  }, [auth.ticket]);
  return <RouterProvider router={router} />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <I18nProvider>
        <AuthProvider>
          <App />
        </AuthProvider>
      </I18nProvider>
    </QueryClientProvider>
  </StrictMode>,
);
