import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.ts';

// The storage namespace (src/storage): directories and files in one table, found by
// (parent_id, name) through a unique index, so a lookup is one indexed query and two writers
// creating one name cannot both succeed. The root is the one row without a parent (created by
// the service on start). Children go with their parent (ON DELETE CASCADE); the service first
// collects the files' disk bytes and archive copies to forget.
//
// Files: `generation` is the committed generation (0 = being uploaded for the first time, not
// visible yet); `next_generation` hands every upload a generation of its own, so two uploads
// never write the same disk file `<id>.<generation>`. `disk_state`: none | complete | staging.
// `dirty` = 1 until the HSM has made every archive copy of the current generation.
//
// Archive copies (`fs_copies`) carry the generation they copy and no foreign key: when a file
// is overwritten or removed its copies are marked obsolete and stay until the HSM has removed
// them from their volumes. Sizes are `double precision` (exact to 2^53 on both engines).
export async function up(db: Kysely<unknown>, { idColumn }: MigrationContext): Promise<void> {
  await db.schema
    .createTable('fs_entries')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('parent_id', 'integer', (c) => c.references('fs_entries.id').onDelete('cascade'))
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('kind', 'varchar(9)', (c) => c.notNull())
    .addColumn('owner_name', 'varchar(32)', (c) => c.notNull())
    .addColumn('group_name', 'varchar(32)', (c) => c.notNull())
    .addColumn('acl', 'text', (c) => c.notNull())
    .addColumn('initial_file_acl', 'text')
    .addColumn('initial_dir_acl', 'text')
    .addColumn('class_of_service', 'varchar(64)')
    .addColumn('family', 'varchar(64)')
    .addColumn('size', 'double precision', (c) => c.notNull().defaultTo(0))
    .addColumn('sha256', 'varchar(64)')
    .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_generation', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('writer', 'varchar(32)')
    .addColumn('disk_state', 'varchar(8)', (c) => c.notNull().defaultTo('none'))
    .addColumn('dirty', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('migrated_at', 'varchar(30)')
    .addColumn('pinned_until', 'varchar(30)')
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('modified_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('accessed_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('changed_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('fs_entries_parent_name').on('fs_entries').columns(['parent_id', 'name']).unique().execute();
  // What the HSM asks: files by disk state and dirtiness (migration, purge), by family.
  await db.schema.createIndex('fs_entries_state').on('fs_entries').columns(['disk_state', 'dirty']).execute();
  await db.schema.createIndex('fs_entries_family').on('fs_entries').column('family').execute();

  await db.schema
    .createTable('fs_copies')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('file_id', 'integer', (c) => c.notNull())
    .addColumn('generation', 'integer', (c) => c.notNull())
    .addColumn('copy_no', 'integer', (c) => c.notNull())
    .addColumn('backend', 'varchar(64)', (c) => c.notNull())
    .addColumn('volume', 'varchar(128)', (c) => c.notNull())
    .addColumn('entry', 'varchar(1024)', (c) => c.notNull())
    .addColumn('position', 'double precision', (c) => c.notNull())
    .addColumn('length', 'double precision', (c) => c.notNull())
    .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('verified_at', 'varchar(30)')
    .addColumn('obsolete_at', 'varchar(30)')
    .execute();
  await db.schema.createIndex('fs_copies_file').on('fs_copies').columns(['file_id', 'generation']).execute();
  await db.schema.createIndex('fs_copies_volume').on('fs_copies').columns(['volume', 'position']).execute();
  await db.schema.createIndex('fs_copies_obsolete').on('fs_copies').column('obsolete_at').execute();

  // Resumable uploads: bytes go to a temporary file named after the upload id (never after the
  // path); `received` is what is safely written. The target entry is `file_id` (a new file's
  // row is created invisible, generation 0, when its first upload starts).
  await db.schema
    .createTable('fs_uploads')
    .addColumn('id', 'varchar(48)', (c) => c.primaryKey())
    .addColumn('file_id', 'integer', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('owner_name', 'varchar(32)', (c) => c.notNull())
    .addColumn('size', 'double precision', (c) => c.notNull())
    .addColumn('received', 'double precision', (c) => c.notNull())
    .addColumn('generation', 'integer', (c) => c.notNull())
    .addColumn('base_generation', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'varchar(64)')
    .addColumn('tag', 'varchar(200)')
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('fs_uploads_file').on('fs_uploads').column('file_id').execute();
  await db.schema.createIndex('fs_uploads_owner').on('fs_uploads').columns(['owner_name', 'path']).execute();

  // Open readers and stagers: purge never drops the disk copy of a file with a live lease.
  // Leases expire (a crashed server's readers do not pin files forever) and are renewed while
  // a read goes on.
  await db.schema
    .createTable('fs_leases')
    .addColumn('id', idColumn.type, idColumn.build)
    .addColumn('file_id', 'integer', (c) => c.notNull())
    .addColumn('generation', 'integer', (c) => c.notNull())
    .addColumn('purpose', 'varchar(8)', (c) => c.notNull())
    .addColumn('holder', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(30)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(30)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('fs_leases_file').on('fs_leases').columns(['file_id', 'expires_at']).execute();
}
