// Applies patches/ to node_modules with patch-package in this repository (development, CI, the
// Docker build). An application that installs Nova as a package has no patches/ folder and
// nothing happens: docs/DEPLOY.md says which driver fix it should carry itself.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (existsSync('patches')) execFileSync('patch-package', { stdio: 'inherit', shell: true });
