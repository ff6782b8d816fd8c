import { fetchWithTicket } from '../../../api/client.ts';

/** Fetches `path` with the ticket and hands the body to the browser as a file named `fallbackName` (or the server's name). */
export async function downloadFile(path: string, fallbackName: string): Promise<void> {
  const response = await fetchWithTicket(path);
  const disposition = response.headers.get('content-disposition') ?? '';
  const named = /filename="([^"]+)"/.exec(disposition)?.[1];
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = named ?? fallbackName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
