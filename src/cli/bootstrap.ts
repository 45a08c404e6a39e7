import { Command, Option } from "commander";

export const bootstrapCommand = (): Command =>
  new Command("bootstrap")
    .description("initialise a new server: first admin user, organization and an admin machine-identity token (printed as JSON)")
    .addOption(new Option("--address <url>", "server address").env("KMS_ADDRESS").default("http://127.0.0.1:8080"))
    .requiredOption("--email <email>", "admin e-mail")
    .addOption(new Option("--password <password>", "admin password").env("KMS_ADMIN_PASSWORD").makeOptionMandatory())
    .requiredOption("--organization <name>", "organization name")
    .action(async (o) => {
      const url = `${o.address.replace(/\/+$/, "")}/api/v1/admin/bootstrap`;
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST", headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: o.email, password: o.password, organization: o.organization }),
        });
      } catch (e) {
        process.stderr.write(`kms bootstrap: cannot reach ${o.address}: ${(e as Error).cause ?? (e as Error).message}\n`);
        process.exit(1);
      }
      const body = await res.text();
      if (!res.ok) {
        let message = body;
        try { message = JSON.parse(body).message; } catch { /* not JSON: print as is */ }
        process.stderr.write(`kms bootstrap: ${res.status}: ${message}\n`);
        process.exit(1);
      }
      process.stdout.write(JSON.stringify(JSON.parse(body), null, 2) + "\n");
    });
