import type { FieldSwap, SecretStore } from "../../store/secrets.js";
import type { SecretCodec } from "./secret-codec.js";

type Deps = {
  store: Pick<SecretStore, "reminderNoteSealingPending" | "reminderNoteSealingDone" | "projectsWithSecrets" | "reminderNotesOf" | "swapReminderNotes">;
  codec: Pick<SecretCodec, "seal" | "isSealedReminderNote">;
};

export interface ReminderNoteSealingReport { projects: number; rows: number }

/**
 * One-time step at server start: seals the reminder notes stored in the clear before migration 008, in the
 * secret rows and in the version rows (`extra.reminderNote`), with the same codec, key and purpose as new
 * writes. It is not a migration because it needs the project data keys behind the root key, which
 * migrations do not get; server/start.ts runs it right after the migrations and the root-key check, before
 * any request is served.
 *
 * Runs while migration 008's mark is in `meta`, and removes the mark once every project is done. Each
 * project is converted in one transaction, so a failure leaves it as it was, the mark stays, and the next
 * start carries on. A note that already opens under its secret's key and purpose is left alone (a plaintext
 * note shaped like a ciphertext does not open), so running it again changes nothing.
 */
export const sealPlaintextReminderNotes = async ({ store, codec }: Deps): Promise<ReminderNoteSealingReport | undefined> => {
  if (!(await store.reminderNoteSealingPending())) return undefined;
  const report: ReminderNoteSealingReport = { projects: 0, rows: 0 };
  for (const projectId of await store.projectsWithSecrets()) {
    const plaintext = async (secretId: string, note: string) => !(await codec.isSealedReminderNote(projectId, secretId, note));
    const sealed = async (secretId: string, note: string) => (await codec.seal(projectId, secretId, { reminderNote: note })).reminder_note!;
    const { secrets, versions } = await store.reminderNotesOf(projectId);
    const swaps: { secrets: FieldSwap[]; versions: FieldSwap[] } = { secrets: [], versions: [] };
    for (const s of secrets) {
      if (await plaintext(s.id, s.reminder_note)) swaps.secrets.push({ id: s.id, from: s.reminder_note, to: await sealed(s.id, s.reminder_note) });
    }
    for (const v of versions) {
      const extra = JSON.parse(v.extra) as { reminderNote?: unknown };
      if (typeof extra.reminderNote !== "string" || !(await plaintext(v.secret_id, extra.reminderNote))) continue;
      swaps.versions.push({ id: v.id, from: v.extra, to: JSON.stringify({ ...extra, reminderNote: await sealed(v.secret_id, extra.reminderNote) }) });
    }
    if (swaps.secrets.length + swaps.versions.length === 0) continue;
    report.rows += await store.swapReminderNotes(swaps);
    report.projects++;
  }
  await store.reminderNoteSealingDone();
  return report;
};
